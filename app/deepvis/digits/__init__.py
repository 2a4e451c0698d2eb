"""Digits: an MLP and a small CNN trained on MNIST-5k, and what their weights store.

data: the images and the fixed split; nets: the networks and their files;
train: mini-batch SGD (many MLPs at once); pictures: weights as blue/red images;
sweep: accuracy against hidden size; compare: two inits side by side;
cnn: the small CNN, its filters on noise and class images from noise;
command: `deepvis digits ...`.
"""
