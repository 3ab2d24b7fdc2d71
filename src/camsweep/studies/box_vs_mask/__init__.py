"""Box versus mask: the study's Table 1, each localisation metric corrected and seed-compatible beside the
published averages (:mod:`.tables`). The box-versus-mask table and figure themselves are core
(:func:`camsweep.tables.box_vs_mask_table`, :mod:`camsweep.plots.localisation`)."""
