"""The report of a scan on a cluster: the same summary as one process's, the samples as a Dask
DataFrame and the weights as a Dask array, written by the workers."""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile

import numpy as np

from .. import io, remedies
from ..errors import OutputError, UsageError, param
from ..report import Report
from ..rowfolds import deal_folds
from .blocks import DaskBlocks


def _write_block(path: str, start: int, values: np.ndarray) -> int:
    out = np.load(path, mmap_mode="r+", allow_pickle=False)
    out[start : start + len(values)] = values
    out.flush()
    del out
    return len(values)


class ClusterReport(Report):
    """:class:`dataaudit.Report` of ``scan(..., client=)``: ``samples`` is a
    ``dask.dataframe.DataFrame`` and :meth:`sample_weight` a ``dask.array.Array``; nothing per
    row is gathered on the driver."""

    def __init__(self, samples, summary, *, labels, classes, weights, excluded, random_state, client, held=()):
        super().__init__(samples, summary, labels=labels, classes=classes, random_state=random_state)
        self._weights = weights  # each check's weight factor (Dask arrays)
        self._excluded = excluded  # rows a cleaned dataset leaves out (a Dask bool array, or None)
        self._default_weight = None
        self._client = client
        # The persisted arrays the columns are computed from: while the report holds them, their
        # blocks stay on the workers (a graph made from them does not keep them alive).
        self._held = list(held)

    def listed(self, check: str, limit: int = 50) -> np.ndarray:
        raise UsageError("a cluster's report lists its worst rows in report.summary (each check's 'worst')")

    def sample_weight(self, *, balance_classes: bool = False, drop_flagged: bool = False):
        """As :meth:`dataaudit.Report.sample_weight` (the same formula), a Dask array; the default
        weights are computed once (the samples table, ``save`` and the caller share them)."""
        if not balance_classes and not drop_flagged and self._default_weight is not None:
            return self._default_weight
        labels = self._labels
        w = labels.map_blocks(lambda lab: np.ones(len(lab)), dtype=np.float64)
        for factor in self._weights:
            w = w * factor
        if drop_flagged and self._excluded is not None:
            w = w * (~self._excluded)
        k = len(self._classes)
        if balance_classes:
            totals = DaskBlocks(labels, w).reduce(lambda lab, x: np.bincount(lab, weights=x, minlength=k), np.add)
            scale = remedies.balance_scale(totals)
            w = DaskBlocks(labels, w).map_rows(lambda lab, x: x * scale[lab], dtype=np.float64)
        kept, total = DaskBlocks(w).reduce(lambda x: np.array([(x > 0).sum(), x[x > 0].sum()]), np.add)
        w = (w * 0 + 1.0) if kept == 0 else w * (kept / total)
        if not balance_classes and not drop_flagged:
            self._default_weight = w = w.persist()
        return w

    def _split_folds(self, test_size: float, random_state: int):
        """Per row: 0 train, 1 validation, 2 excluded — stratified over the rows kept, dealt as
        the probe's folds are (:func:`dataaudit.rowfolds.deal_folds`)."""
        n_parts = max(2, int(round(1 / test_size)))
        labels = self._labels
        excluded = self._excluded if self._excluded is not None else labels.map_blocks(
            lambda lab: np.zeros(len(lab), bool), dtype=bool)
        k = len(self._classes)
        kept_counts = DaskBlocks(labels, excluded).map(lambda lab, ex: np.bincount(lab[~ex], minlength=k))
        before = np.cumsum([np.zeros(k, np.int64)] + kept_counts[:-1], axis=0)

        def side(lab, ex, prior):
            out = np.full(len(lab), 2, dtype=np.int8)
            keep = ~ex
            out[keep] = (deal_folds(lab[keep], n_parts, random_state, n_classes=k, before=prior) == 0).astype(np.int8)
            return out

        return DaskBlocks(labels, excluded).map_rows(side, per_block=list(before), dtype=np.int8)

    def clean_split(self, test_size: float = 0.2, *, random_state: int | None = None):
        """Stratified ``(train_idx, val_idx)`` as Dask arrays, without excluded rows."""
        import dask.array as da

        sides = self._split_folds(test_size, self._random_state if random_state is None else random_state)
        index = da.arange(sides.shape[0], chunks=sides.chunks[0])
        return index[sides == 0], index[sides == 1]

    def excluded(self):
        import dask.array as da

        index = da.arange(self._labels.shape[0], chunks=self._labels.chunks[0])
        return index[self._excluded] if self._excluded is not None else index[:0]

    def clean_data(self, X, y=None, *, relabel: bool = False):
        raise UsageError("clean_data is for arrays in memory; on a cluster, select rows with report.samples")

    def save(self, directory: str | os.PathLike) -> list[str]:
        """``report.json``, ``report.html``, ``samples.parquet/`` (one file per partition),
        ``sample_weight.npy`` (each block written by a worker: ``directory`` must be on a file
        system every worker sees), ``split.npz`` (written block by block) and ``timings.json``,
        each atomically."""
        directory = io.check_output_dir(directory, what="directory")
        written = []
        try:
            path = os.path.join(directory, "samples.parquet")
            tmp = tempfile.mkdtemp(prefix=".dataaudit-", dir=directory)
            _write_parquet_parts(self.samples, tmp)
            _replace_dir(tmp, path)
            written.append(path)
            path = os.path.join(directory, "sample_weight.npy")
            self._write_npy(path, self.sample_weight())
            written.append(path)
            path = os.path.join(directory, "split.npz")
            self._write_split(path)
            written.append(path)
            io.write_json(os.path.join(directory, "report.json"), self.summary)
            written.append(os.path.join(directory, "report.json"))
            from ..render.html import render

            io.write_text(os.path.join(directory, "report.html"), render(_Page(self)))
            written.append(os.path.join(directory, "report.html"))
            if self.timings is not None:
                io.write_json(os.path.join(directory, "timings.json"), self.timings)
                written.append(os.path.join(directory, "timings.json"))
        except OSError as exc:
            raise OutputError(f"cannot write into '{directory}' ({exc.strerror or exc}): choose another {param('directory')}") from None
        return written

    def _write_npy(self, path: str, values) -> None:
        import dask

        from dask import delayed

        with io.atomic_path(path, suffix=".npy") as tmp:
            np.lib.format.open_memmap(tmp, mode="w+", dtype=values.dtype, shape=values.shape).flush()
            starts = np.concatenate([[0], np.cumsum(values.chunks[0])[:-1]])
            dask.compute(*[delayed(_write_block)(tmp, int(s), b) for s, b in zip(starts, values.to_delayed().ravel())])

    def _write_split(self, path: str) -> None:
        """``split.npz`` (``train``, ``val``, ``excluded``), streamed one block at a time."""
        # Persisted: each block is read once per array of the file (train, val, excluded).
        sides = self._split_folds(0.2, self._random_state).persist()
        starts = np.concatenate([[0], np.cumsum(sides.chunks[0])[:-1]])
        blocks = sides.to_delayed().ravel()
        counts = np.array(DaskBlocks(sides).map(lambda s: np.bincount(s, minlength=3)))
        totals = counts.sum(axis=0)

        def write(fh) -> None:
            with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
                for code, name in enumerate(("train", "val", "excluded")):
                    with zf.open(f"{name}.npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array_header_1_0(
                            member, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.int64)), "fortran_order": False,
                                     "shape": (int(totals[code]),)})
                        for start, block, c in zip(starts, blocks, counts):
                            if c[code]:
                                member.write((np.flatnonzero(block.compute() == code) + start).astype(np.int64).tobytes())

        io.atomic_write(path, write, binary=True)


#: Per check drawn by the generic section of report.html: the figure counting its flagged rows
#: (the columns shown are the check's own ``SHOWN``).
LISTED = {"label_issues": "n_label_issues", "high_loss": "n_high_loss", "outliers": "n_outliers"}


class _Shown:
    def __init__(self, shown: tuple):
        self.shown = shown


class _Page:
    """What ``report.html`` reads of a cluster's report: its summary, and only the rows the page
    lists (each check's worst, the conflicting groups' first members) gathered from the samples."""

    #: Members shown per conflicting group (as the page draws them).
    GROUP_MEMBERS = 6

    def __init__(self, report: ClusterReport):
        from ..checks import REGISTRY
        from ..render.html import MAX_ROWS

        summary = report.summary
        self.summary, self.raw = summary, None
        self.sample_shape = tuple(summary["dataset"]["sample_shape"])
        checks = summary["checks_run"]
        self.titles = {name: REGISTRY[name].TITLE for name in checks}
        self.verdicts = {name: _Shown(getattr(REGISTRY[name], "SHOWN", ("label",))) for name in checks}
        self._listed = {name: np.array([r["index"] for r in summary[name].get("worst", [])][:MAX_ROWS], np.int64)
                        for name in checks if name in LISTED}
        rows = [*self._listed.values()]
        for group in summary.get("duplicates", {}).get("conflicting_groups", [])[:MAX_ROWS]:
            rows.append(np.asarray(group["indices"][: self.GROUP_MEMBERS], np.int64))
        wanted = np.unique(np.concatenate(rows)) if rows else np.zeros(0, np.int64)
        self.samples = report.samples.map_partitions(lambda part: part[part.index.isin(wanted)]).compute()

    def listed(self, check: str, limit: int) -> np.ndarray:
        return self._listed[check][:limit]

    def flag_count(self, check: str) -> int:
        return int(self.summary[check][LISTED[check]])


def _write_part(frame, path: str) -> int:
    frame.to_parquet(path, index=True)
    return len(frame)


def _write_parquet_parts(samples, directory: str) -> None:
    """One parquet file per partition (``part.00000.parquet``, ...), each written by a worker;
    ``pandas.read_parquet(directory)`` or ``dask.dataframe.read_parquet`` reads them in order."""
    import dask
    from dask import delayed

    parts = samples.to_delayed()
    width = max(5, len(str(len(parts))))
    dask.compute(*[delayed(_write_part)(part, os.path.join(directory, f"part.{i:0{width}d}.parquet"))
                   for i, part in enumerate(parts)])


def _replace_dir(tmp: str, path: str) -> None:
    """Put the directory ``tmp`` at ``path``, replacing what was there."""
    if os.path.exists(path):
        old = tempfile.mkdtemp(prefix=".dataaudit-old-", dir=os.path.dirname(path))
        os.replace(path, os.path.join(old, "x"))
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)


__all__ = ["ClusterReport"]
