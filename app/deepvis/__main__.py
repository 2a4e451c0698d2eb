from deepvis.cli import main

raise SystemExit(main())
