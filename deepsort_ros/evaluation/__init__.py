"""Scores: multi-object tracking (HOTA with TrackEval, IDF1/MOTA) and Re-ID features (AUC)."""
