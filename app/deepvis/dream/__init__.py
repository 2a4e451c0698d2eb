"""DeepDream (Mordvintsev et al. 2015) and class images from noise, built on deepvis.optvis.

ascent: the pieces DeepDream adds to optvis (a channel's L2, roll jitter, the
g / mean|g| step); deepdream: octaves from small to full size with the detail
carried up; classes: class names, class images from noise and their measure;
sheet: contact sheets; bench: dream steps against bare forward+backward steps;
command: `deepvis dream`.
"""
