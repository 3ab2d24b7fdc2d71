"""Attention training: the λ table of classifiers trained with the Grad-CAM attention term
(:mod:`.lambda_table`), and the shortcut demonstration (:mod:`.shortcut`: evaluation and table;
:mod:`.figures`)."""
