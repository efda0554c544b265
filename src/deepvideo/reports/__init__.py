"""Reports of Karpathy et al. 2014's results on our benchmarks: Tables 1-4, Figs. 3-4.

Reports sit above the tasks: they run them (``src/train.py``, ``src/eval.py``, the transfer task)
and read what the runs wrote through the lower homes of each file format
(:mod:`deepvideo.checkpoint`, :mod:`deepvideo.scores`).

- :mod:`deepvideo.reports.experiments`: train/evaluate runs as separate processes; run
  directories, their best checkpoints and metrics.
- :mod:`deepvideo.reports.table1`: Table 1 end to end (:func:`~deepvideo.reports.table1.run_table1`):
  train or reuse every row, the JSON manifest of the runs.
- :mod:`deepvideo.reports.table1_markdown`: Table 1's rows, the paper's numbers, the markdown.
- :mod:`deepvideo.reports.throughput`: training clips/s of each model, the machine description.
- :mod:`deepvideo.reports.ensemble`: Table 1's last row, the CNN average ensemble.
- :mod:`deepvideo.reports.analysis`: per-class AP and confusions (Table 2's computations).
- :mod:`deepvideo.reports.table2`: Table 2 end to end (:func:`~deepvideo.reports.table2.run_table2`).
- :mod:`deepvideo.reports.figures`: Fig. 3 (first-layer filters), Fig. 4 (ranked predictions),
  the confusion matrix (:func:`~deepvideo.reports.figures.run_figures`).
- :mod:`deepvideo.reports.transfer`: the UCF-101 transfer report, Tables 3 and 4
  (:func:`~deepvideo.reports.transfer.run_transfer_report`).

The command-line entry points are ``scripts/report_table1.py``, ``scripts/table2.py``,
``scripts/figures.py`` and ``scripts/transfer_folds.py``.
"""
