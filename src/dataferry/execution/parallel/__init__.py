"""ParallelRunStep's driver: mini-batches of a step's inputs, run by a pool of workers.

The step's process runs ``python -m dataferry.execution.parallel`` (the ``parallel``
step kind); it plans the mini-batches (``batches``), hands them to a ``WorkerPool``
(``pool``: local processes today, any executor that takes one mini-batch at a time
later), keeps the failure account (``accounting``) and a progress log so a resumed
step skips finished mini-batches (``progress``), and writes the output file whole.
"""
