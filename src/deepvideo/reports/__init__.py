"""Reports of Karpathy et al. 2014's results on our benchmarks: Table 1, Table 2, Figs. 3-4.

- :mod:`deepvideo.reports.table1`: train every Table 1 model, time them, write the table.
- :mod:`deepvideo.reports.ensemble`: Table 1's last row, the CNN average ensemble.
- :mod:`deepvideo.reports.analysis`: Table 2 (per-class AP differences), confusions.
- :mod:`deepvideo.reports.figures`: Fig. 3 (first-layer filters), Fig. 4 (ranked predictions),
  the confusion matrix.

The command-line entry points are ``scripts/report_table1.py``, ``scripts/table2.py`` and
``scripts/figures.py``.
"""
