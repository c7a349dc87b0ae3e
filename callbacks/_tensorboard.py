"""TensorBoard event files written by the monitors, on every backend, without TensorFlow.

The monitors write with the ``tensorboard`` package's own pieces, not with ``tf.summary``: the
protocol buffers of ``tensorboard.compat.proto`` (``Event``, ``Summary``, ``HistogramProto``)
framed by ``tensorboard.summary.writer.record_writer.RecordWriter`` (TFRecord framing with the
masked CRC-32C of its pure-Python stub). Neither imports TensorFlow, so under JAX or PyTorch
nothing loads it. ``tensorboard.summary.writer.event_file_writer.EventFileWriter`` is not used:
it reaches ``tensorboard.compat.tf``, which imports TensorFlow whenever it is installed.
``tensorboardX`` would do the same job as an extra dependency; the ``tensorboard`` package is
needed anyway to view the files (see ``notes/tensorboard.md`` for the measured comparison).

Layout: the monitors of a ``fit`` given ``log_dir=DIR`` all write into one run, ``DIR/diagnostics``
(next to the ``DIR/train`` and ``DIR/validation`` runs of ``keras.callbacks.TensorBoard(DIR)``);
the monitors of one process share one event file there. Tags are
``<monitor>/<layer>/<statistic>`` (per layer) and ``<monitor>/<statistic>`` (the summary), so
TensorBoard shows one section per monitor (``gradient_flow``, ``dead_neurons``,
``activation_stats``, ``gradient_explosion``) with the charts of each layer next to each other;
activation histograms are ``activation_stats/<layer>/activations``.

Steps are those of ``keras.callbacks.TensorBoard``: a check at the end of an epoch is written at
the epoch's 0-based index (the step of Keras' ``epoch_loss``), the check of the initial weights
one step before the first epoch; with ``every_n_batches`` a check is written at the number of
training batches done in this ``fit`` (the step of Keras' ``batch_*`` scalars; initial weights
at 0).

An event file is appended to while training runs, so that TensorBoard can show it live: it
cannot be written atomically. Each check is one record, flushed at once; readers skip a
truncated last record. :func:`write_tensorboard` (after training) writes a whole file
atomically.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import socket
import threading
import time
from pathlib import Path

RUN = "diagnostics"  # the run (sub-directory of log_dir) the monitors write into
_COUNTER = itertools.count()
_WRITERS: dict[str, list] = {}  # real path of a run directory -> [EventWriter, users]
_LOCK = threading.Lock()


def check_log_dir(log_dir, name="log_dir"):
    """``log_dir`` as a Path, or None; ``ValueError`` for a value that cannot be a directory,
    ``ImportError`` if the ``tensorboard`` package that writes the events is missing."""
    if log_dir is None:
        return None
    if importlib.util.find_spec("tensorboard") is None:
        raise ImportError(
            f"{name}= writes TensorBoard event files with the tensorboard package, which is not "
            "installed: pip install 'kerasnets[tensorboard]' (or pip install tensorboard)"
        )
    if isinstance(log_dir, bool) or not isinstance(log_dir, (str, os.PathLike)) or not str(log_dir):
        raise ValueError(f"{name} must be None or a directory path (str or Path), got {log_dir!r}")
    path = Path(log_dir)
    for parent in (path, path / RUN):
        if parent.exists() and not parent.is_dir():
            raise ValueError(
                f"{name} {str(log_dir)!r}: {str(parent)!r} exists and is not a directory"
            )
    return path


def _event_file_name() -> str:
    # TensorBoard reads files whose name contains "tfevents"; the counter keeps two writers of
    # one process apart within the same second.
    return (
        f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}."
        f"{os.getpid()}.{next(_COUNTER)}.kerasnets"
    )


class EventWriter:
    """Events for one TensorBoard run: scalars and histograms, one ``Event`` per call.

    ``path`` None keeps the records in memory (:meth:`getvalue`), for a whole file written at
    once.

    Example:
        >>> import tempfile
        >>> from callbacks._tensorboard import EventWriter
        >>> writer = EventWriter(tempfile.mkdtemp())
        >>> writer.write(3, {"section/layer/value": 0.5})
        >>> writer.close()
    """

    def __init__(self, directory=None):
        import io

        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.summary.writer.record_writer import RecordWriter

        self._event_pb2, self._summary_pb2 = event_pb2, summary_pb2
        if directory is None:
            self.path, stream = None, io.BytesIO()
        else:
            Path(directory).mkdir(parents=True, exist_ok=True)
            self.path = Path(directory) / _event_file_name()
            stream = open(self.path, "wb")  # noqa: SIM115 (closed by close())
        self._stream = stream
        self._records = RecordWriter(stream)
        self._lock = threading.Lock()
        self._append(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))

    def _append(self, event):
        with self._lock:
            self._records.write(event.SerializeToString())
            if self.path is not None:
                self._stream.flush()

    def write(self, step: int, scalars: dict, histograms: dict | None = None) -> None:
        """One event at ``step``: ``scalars`` ``{tag: number}`` and ``histograms``
        ``{tag: (counts, edges, mean, std)}`` (``len(edges) == len(counts) + 1``)."""
        values = [
            self._summary_pb2.Summary.Value(tag=tag, simple_value=float(value))
            for tag, value in scalars.items()
        ]
        for tag, (counts, edges, mean, std) in (histograms or {}).items():
            values.append(
                self._summary_pb2.Summary.Value(tag=tag, histo=_histogram(counts, edges, mean, std))
            )
        event = self._event_pb2.Event(
            wall_time=time.time(), step=int(step), summary=self._summary_pb2.Summary(value=values)
        )
        self._append(event)

    def getvalue(self) -> bytes:
        return self._stream.getvalue()

    def close(self) -> None:
        with self._lock:
            if not self._stream.closed and self.path is not None:
                self._stream.close()


def _histogram(counts, edges, mean, std):
    """A ``HistogramProto``: bucket ``i`` spans ``(bucket_limit[i - 1], bucket_limit[i]]``,
    the first from ``min``; ``sum`` and ``sum_squares`` come from the mean and std."""
    from tensorboard.compat.proto.summary_pb2 import HistogramProto

    n = float(sum(counts))
    return HistogramProto(
        min=float(edges[0]),
        max=float(edges[-1]),
        num=n,
        sum=float(mean) * n,
        sum_squares=(float(std) ** 2 + float(mean) ** 2) * n,
        bucket_limit=[float(e) for e in edges[1:]],
        bucket=[float(c) for c in counts],
    )


def acquire(log_dir) -> EventWriter:
    """The shared writer of ``log_dir``'s diagnostics run (opened on first use)."""
    directory = Path(log_dir) / RUN
    key = os.path.realpath(directory)
    with _LOCK:
        entry = _WRITERS.get(key)
        if entry is None:
            entry = _WRITERS[key] = [EventWriter(directory), 0]
        entry[1] += 1
        return entry[0]


def release(writer: EventWriter) -> None:
    """Give back a writer from :func:`acquire`; the last user closes its file."""
    with _LOCK:
        for key, entry in list(_WRITERS.items()):
            if entry[0] is writer:
                entry[1] -= 1
                if entry[1] <= 0:
                    writer.close()
                    del _WRITERS[key]
                return


def check_events(monitor, index: int):
    """``(scalars, histograms)`` of the monitor's check number ``index``, tagged for
    TensorBoard: every number of its ``history`` and ``summary`` (lists such as histogram counts
    aside), and the activation histograms."""
    section = monitor.tensorboard_section
    skip = monitor.tensorboard_skip
    scalars, histograms = {}, {}
    for layer, values in monitor.history.items():
        for key, series in values.items():
            if key in skip or index >= len(series) or not _is_number(series[index]):
                continue
            scalars[f"{section}/{layer}/{key}"] = series[index]
        counts, edges = values.get("histogram_counts"), values.get("histogram_edges")
        if counts and edges and index < len(counts):
            histograms[f"{section}/{layer}/activations"] = (
                counts[index],
                edges[index],
                values["mean"][index],
                values["std"][index],
            )
    for key, series in monitor.summary.items():
        if index < len(series) and _is_number(series[index]):
            scalars[f"{section}/{key}"] = series[index]
    return scalars, histograms


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def write_tensorboard(monitors, log_dir) -> str:
    """Write what ``monitors`` recorded in their last ``fit`` as TensorBoard events; return the
    command that opens them.

    For monitors that ran without ``log_dir`` (a monitor given ``log_dir`` has written its
    events while it trained). The events go to ``log_dir/diagnostics`` in one new event file,
    written atomically, with the tags and steps the monitors use when they write live.

    Args:
        monitors: a monitor or a list of monitors (:class:`~callbacks.Monitor`) after ``fit``.
        log_dir: the TensorBoard log directory (e.g. the one of ``keras.callbacks.TensorBoard``).

    Returns:
        ``"tensorboard --logdir <log_dir>"``.

    Example:
        >>> from callbacks import write_tensorboard
        >>> print(write_tensorboard([dead, flow], "runs/tb"))  # doctest: +SKIP
        tensorboard --logdir runs/tb
    """
    from callbacks._base import Monitor
    from kerasnets.io import write_bytes

    monitors = [monitors] if isinstance(monitors, Monitor) else list(monitors)
    bad = [m for m in monitors if not isinstance(m, Monitor)]
    if bad:
        raise TypeError(f"write_tensorboard takes kerasnets monitors, got {bad[0]!r}")
    path = check_log_dir(log_dir)
    if path is None:
        raise ValueError("log_dir must be a directory path (str or Path), got None")
    writer = EventWriter()
    for monitor in monitors:
        for index, step in enumerate(monitor.tensorboard_steps()):
            scalars, histograms = check_events(monitor, index)
            writer.write(step, scalars, histograms)
    write_bytes(path / RUN / _event_file_name(), writer.getvalue())
    return tensorboard_command(path)


def tensorboard_command(log_dir) -> str:
    """The shell command that opens ``log_dir`` in TensorBoard."""
    import shlex

    return f"tensorboard --logdir {shlex.quote(str(log_dir))}"
