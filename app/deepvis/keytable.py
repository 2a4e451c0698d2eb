"""Key tables: each mode's keys as data (key names -> an action name and what it does), so that
the window, its menus, the help overlay and the tests read one table, and a key is tested
without Qt. Key names are those of gui/keys.py: a named key (Left, PgDown, Esc, Space, Enter) or
the character typed ("I" is shift+i)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Binding:
    keys: tuple[str, ...]
    action: str  # the name of a method of the mode's state, or of a request the window carries out
    text: str  # what it does, for menus and the help overlay
    args: tuple = ()  # what the method is called with (a direction, say)


class KeyTable:
    def __init__(self, bindings: tuple[Binding, ...]):
        self.bindings = bindings
        self.keymap = {key: b.action for b in bindings for key in b.keys}
        self._by_key = {key: b for b in bindings for key in b.keys}
        self.action_keys = {b.action: " / ".join(b.keys) for b in bindings}
        if len(self.keymap) != sum(len(b.keys) for b in bindings):
            raise ValueError("a key is bound twice")

    def action(self, key: str) -> str | None:
        return self.keymap.get(key)

    def run(self, key: str, target) -> bool:
        """Call the key's method on `target` (a mode); False when the key is not in the table."""
        binding = self._by_key.get(key)
        if binding is None:
            return False
        getattr(target, binding.action)(*binding.args)
        return True

    def help(self) -> list[tuple[str, str]]:
        return [(" / ".join(b.keys), b.text) for b in self.bindings]
