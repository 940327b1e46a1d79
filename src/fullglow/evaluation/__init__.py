"""Evaluation: bits per dimension, segmentation scores, the segmenter, sampling rounds, tables."""
