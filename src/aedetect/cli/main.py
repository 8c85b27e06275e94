"""The ``aedetect`` command: train a model on a CSV file, score another with it, inspect a saved
model, start the HTTP service, or start a worker of its job queue.

Thin dispatch over the library (:func:`aedetect.data.read_csv`, :class:`aedetect.AutoEncoderDetector`,
:mod:`aedetect.artifacts`). Every aedetect error is printed as ``error: <message>`` on stderr with
exit status 2 and no traceback, the same status click gives to a wrong command line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from tqdm import tqdm

from aedetect.cli.errors import EXIT_ERROR
from aedetect.cli.errors import reported_errors as _reported_errors
from aedetect.cli.models import models_app
from aedetect.errors import InvalidInput, quoted

SCORE_CHUNK_ROWS = 50_000
"""Rows read, scored and written at a time by ``aedetect score``, so memory stays bounded."""

app = typer.Typer(
    name="aedetect",
    help="Anomaly detection in CSV tables with autoencoders: train, score, inspect, serve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _names(value: str | None, option: str) -> list[str] | None:
    """A comma-separated option as a list of names (None when not given)."""
    if value is None:
        return None
    names = [part.strip() for part in value.split(",")]
    if not all(names):
        raise InvalidInput(f"{option} has an empty name in {quoted(value)}", field=option.lstrip("-"))
    return names


def _widths(value: str | None) -> list[int] | None:
    """``--hidden 200,100`` as positive layer widths."""
    if value is None:
        return None
    try:
        widths = [int(part) for part in value.split(",")]
    except ValueError:
        raise InvalidInput(
            f"--hidden must be comma-separated whole numbers such as 64,16, got {quoted(value)}",
            field="hidden",
        ) from None
    if any(w < 1 for w in widths):
        raise InvalidInput(f"--hidden widths must be at least 1, got {quoted(value)}", field="hidden")
    return widths


def _read_options(
    header: bool, names: str | None, encoding: str | None, delimiter: str | None, decimal: str | None
) -> dict[str, Any]:
    """Keyword arguments of :func:`aedetect.data.read_csv` from the shared command-line options."""
    if names is None and not header:
        raise InvalidInput("--no-header needs --names to name the columns", field="names")
    return {
        "header": header,
        "names": _names(names, "--names"),
        "encoding": encoding,
        "delimiter": "\t" if delimiter in ("\\t", "tab") else delimiter,
        "decimal": decimal,
    }


DataArg = Annotated[
    Path,
    typer.Argument(
        help="CSV file (UTF-8 or CP949/EUC-KR; comma, semicolon, tab or pipe separated; decimal "
        "commas read as numbers) or Excel workbook (.xlsx, .xls)."
    ),
]
ModelArg = Annotated[Path, typer.Argument(help="Model directory written by 'aedetect train'.")]
HeaderOpt = Annotated[
    bool, typer.Option("--header/--no-header", help="Whether the first line holds the column names.")
]
NamesOpt = Annotated[
    str | None,
    typer.Option(help="Column names, comma-separated: of a --no-header file, or replacing the header."),
]
EncodingOpt = Annotated[str | None, typer.Option(help="Text encoding of the file (default: detected).")]
DelimiterOpt = Annotated[
    str | None, typer.Option(help="Field delimiter, one character or 'tab' (default: detected).")
]
HiddenOpt = Annotated[
    str | None,
    typer.Option(
        help="Encoder layer widths towards the bottleneck, e.g. 200,100 (default: sized from the input)."
    ),
]
ContaminationOpt = Annotated[
    float | None,
    typer.Option(
        help="Expected share of anomalies in the training rows; sets the threshold (default: 0.01)."
    ),
]
DeviceOpt = Annotated[str, typer.Option(help="'auto' (a CUDA GPU when present), 'cpu' or a torch device.")]
DecimalOpt = Annotated[
    str | None, typer.Option(help="Decimal mark of the numbers, '.' or ',' (default: detected).")
]
SheetOpt = Annotated[
    str | None, typer.Option(help="Sheet of an Excel workbook to read (default: the first).")
]


@app.command()
def train(
    data: DataArg,
    out: Annotated[Path, typer.Option("--out", help="Directory to save the model in (created if missing).")],
    columns: Annotated[
        str | None, typer.Option(help="Columns to model, comma-separated (default: all columns).")
    ] = None,
    categorical: Annotated[
        str | None,
        typer.Option(
            help="Numeric columns to treat as categories, comma-separated (text columns always are)."
        ),
    ] = None,
    vocab_size: Annotated[
        int | None, typer.Option(help="Most frequent values kept per categorical column (default: 10).")
    ] = None,
    hidden: HiddenOpt = None,
    epochs: Annotated[int | None, typer.Option(help="Maximum training epochs (default: 100).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Rows per training step (default: 128).")] = None,
    learning_rate: Annotated[float | None, typer.Option(help="Adam learning rate (default: 0.001).")] = None,
    contamination: ContaminationOpt = None,
    seed: Annotated[int | None, typer.Option(help="Random seed: the same seed gives the same model.")] = None,
    device: DeviceOpt = "auto",
    threads: Annotated[
        int | None,
        typer.Option(min=1, help="torch threads for training (default: chosen from the network's size)."),
    ] = None,
    header: HeaderOpt = True,
    names: NamesOpt = None,
    encoding: EncodingOpt = None,
    delimiter: DelimiterOpt = None,
    decimal: DecimalOpt = None,
    sheet: SheetOpt = None,
) -> None:
    """Train an autoencoder ensemble on DATA and save it to --out.

    DATA streams from disk in chunks (statistics first, then the rows), so a file larger than
    memory trains in bounded memory."""
    with _reported_errors():
        _check_model_dir_is_free(out)
        options = _read_options(header, names, encoding, delimiter, decimal)
        params: dict[str, Any] = {
            "columns": _names(columns, "--columns"),
            "categorical": _names(categorical, "--categorical"),
            "vocab_size": vocab_size,
            "n_hidden": _widths(hidden),
            "epochs": epochs,
            "batch_size": batch_size,
            "learning_rate": learning_rate,
            "contamination": contamination,
            "random_state": seed,
            "n_threads": threads,
        }
        _fit_and_save(data, sheet, options, {k: v for k, v in params.items() if v is not None}, device, out)


def _fit_and_save(
    data: Path, sheet: str | None, options: dict[str, Any], params: dict[str, Any], device: str, out: Path
) -> None:
    """Fit a detector with ``params`` on DATA (a workbook's ``sheet`` read as a table), streamed in
    chunks with an epoch bar, save it to ``out`` and print what it learned."""
    from aedetect import AutoEncoderDetector, save_detector
    from aedetect.data import iter_csv_chunks
    from aedetect.data.tables import table_path

    detector = AutoEncoderDetector(device=device, **params)
    with table_path(data, sheet) as source, _EpochBar() as bar:
        detector.fit(partial(iter_csv_chunks, source, **options), callback=bar.update)
    try:
        save_detector(detector, out)
    except OSError as exc:
        raise InvalidInput(f"cannot save the model to {out}: {exc.strerror or exc}") from None
    _print_training_summary(detector, detector.n_samples_, out)


def _check_model_dir_is_free(out: Path) -> None:
    """Refuse to write a model into a file or into a directory that holds something else."""
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"--out {out} is a file; give a directory for the model", field="out")
    if out.is_dir() and any(out.iterdir()) and not (out / "model.json").is_file():
        raise InvalidInput(
            f"--out {out} already holds files that are not an aedetect model; give a new or empty directory",
            field="out",
        )


class _EpochBar:
    """A tqdm bar over the epochs, fed by the detector's fit callback."""

    def __init__(self) -> None:
        self._bar: tqdm[Any] | None = None

    def update(self, epoch: int, n_epochs: int, train_loss: float, val_loss: float | None) -> None:
        if self._bar is None:
            self._bar = tqdm(total=n_epochs, desc="training", unit="epoch", dynamic_ncols=True)
        losses = {"train": f"{train_loss:.4g}"}
        if val_loss is not None:
            losses["val"] = f"{val_loss:.4g}"
        self._bar.set_postfix(losses, refresh=False)
        self._bar.update(epoch - self._bar.n)

    def __enter__(self) -> _EpochBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()


def _kinds_table(kinds: dict[str, str]) -> list[str]:
    width = max(len(name) for name in kinds)
    return [f"  {name.ljust(width)}  {kind}" for name, kind in kinds.items()]


def _loss_line(history: dict[str, list[float]]) -> str:
    parts = []
    if history.get("train_loss"):
        parts.append(f"train {history['train_loss'][-1]:.6g}")
    if history.get("val_loss"):
        parts.append(f"validation {history['val_loss'][-1]:.6g}")
    return ", ".join(parts) if parts else "none recorded"


def _print_training_summary(detector: Any, n_rows: int, out: Path) -> None:
    kinds: dict[str, str] = detector.column_kinds_
    typer.echo(f"trained on {n_rows} rows, {len(kinds)} columns:")
    for line in _kinds_table(kinds):
        typer.echo(line)
    epochs = detector.effective_params_["epochs"]
    typer.echo(f"epochs run: {detector.n_epochs_} of at most {epochs} (best epoch {detector.best_epoch_})")
    typer.echo(f"final loss: {_loss_line(detector.history_)}")
    typer.echo(f"threshold: {detector.threshold_:.6g} (contamination {detector.contamination})")
    typer.echo(f"saved to {out}")


@app.command()
def score(
    model: ModelArg,
    data: DataArg,
    out: Annotated[Path, typer.Option("--out", help="CSV file to write (UTF-8 with BOM, comma-separated).")],
    top: Annotated[
        int, typer.Option(min=0, help="How many top contributing columns to list per row (0: none).")
    ] = 3,
    header: HeaderOpt = True,
    names: NamesOpt = None,
    encoding: EncodingOpt = None,
    delimiter: DelimiterOpt = None,
    decimal: DecimalOpt = None,
    sheet: SheetOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """Score the rows of DATA with MODEL and write them to --out with three more columns.

    anomaly_score: higher is more anomalous. is_anomaly: 1 when the score is above the model's
    threshold, else 0. top_columns: the --top columns that contribute most to the row's score,
    most first, separated by ';' (e.g. "temperature;pressure;line"). Columns of these names in
    DATA are replaced. The file is UTF-8 with a byte-order mark so that spreadsheet programs show
    non-ASCII column names correctly.
    """
    with _reported_errors():
        from aedetect import load_detector
        from aedetect.data import iter_csv_chunks
        from aedetect.data.tables import table_path
        from aedetect.services.scoring import LABEL_COLUMN, scored_frame

        detector = load_detector(model, device=device)
        options = _read_options(header, names, encoding, delimiter, decimal)
        partial = out.with_name(f".{out.name}.partial")
        n_rows = n_flagged = 0
        try:
            with (
                table_path(data, sheet) as source,
                partial.open("w", encoding="utf-8-sig", newline="") as sink,
            ):
                for chunk in iter_csv_chunks(source, chunk_rows=SCORE_CHUNK_ROWS, **options):
                    scored = scored_frame(detector, chunk, top)
                    scored.to_csv(sink, index=False, header=n_rows == 0)
                    n_rows += len(scored)
                    n_flagged += int(scored[LABEL_COLUMN].sum())
            os.replace(partial, out)
        except OSError as exc:
            raise InvalidInput(f"cannot write {out}: {exc.strerror or exc}") from None
        finally:
            partial.unlink(missing_ok=True)
        typer.echo(
            f"flagged {n_flagged} of {n_rows} rows as anomalies "
            f"(score above threshold {detector.threshold_:.6g}); wrote {out}"
        )


@app.command()
def info(model: ModelArg) -> None:
    """Describe a saved model: columns, hyperparameters, threshold, training and library versions."""
    with _reported_errors():
        from aedetect import load_detector
        from aedetect.artifacts import read_manifest

        manifest = read_manifest(model)
        detector = load_detector(model, device="cpu")
        kinds: dict[str, str] = detector.column_kinds_
        typer.echo(f"model: {model} ({manifest.get('detector')})")
        typer.echo(f"columns ({len(kinds)}):")
        for line in _kinds_table(kinds):
            typer.echo(line)
        typer.echo("hyperparameters (as used, after defaults):")
        params = detector.effective_params_
        for key in sorted(k for k in params if k not in ("columns", "categorical")):
            typer.echo(f"  {key}: {params[key]}")
        typer.echo(f"threshold: {detector.threshold_:.6g}")
        typer.echo(
            f"training: {detector.n_samples_} rows, {detector.n_epochs_} epochs "
            f"(best epoch {detector.best_epoch_}), final loss {_loss_line(detector.history_)}"
        )
        versions = manifest.get("library_versions", {})
        typer.echo("libraries: " + ", ".join(f"{name} {version}" for name, version in versions.items()))


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to listen on (default: AEDETECT_HOST or 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="TCP port (default: AEDETECT_PORT or 8000).")
    ] = None,
) -> None:
    """Start the HTTP service: dashboard at /, v2 and TensorMSA-compatible v1 APIs, docs at /docs.
    Refuses to start, before touching any job, while another server uses the data directory or port."""
    with _reported_errors():
        try:
            from aedetect.server import run_server
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] == "aedetect":
                raise
            typer.echo(
                f"error: the server needs the 'server' extra ({exc.name} is missing): "
                "pip install 'aedetect[server]'",
                err=True,
            )
            raise typer.Exit(code=EXIT_ERROR) from None
        run_server(host=host, port=port)


@app.command()
def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, help="Jobs run at once, one child process each (default: AEDETECT_JOB_WORKERS)."),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Celery node name (default: aedetect@<host name>).")
    ] = None,
) -> None:
    """Run training and batch-scoring jobs from the queue (AEDETECT_JOB_RUNNER=celery,
    AEDETECT_BROKER_URL); the settings of the API processes apply (registry, artifact store)."""
    with _reported_errors():
        import socket

        from aedetect.config import get_settings

        settings = get_settings()
        if settings.job_runner != "celery":
            raise InvalidInput(
                f"'aedetect worker' runs the jobs of AEDETECT_JOB_RUNNER=celery, but it is "
                f"{quoted(settings.job_runner)}: set AEDETECT_JOB_RUNNER=celery and AEDETECT_BROKER_URL "
                "for the API processes and the workers",
                field="job_runner",
            )
        from aedetect.bootstrap import celery_app, worker_runtime
        from aedetect.jobs.celery import run_worker

        app = celery_app(settings)
        argv = [
            "--loglevel=INFO",
            "--pool=prefork",
            f"--concurrency={concurrency or settings.job_workers}",
            f"--hostname={name or f'aedetect@{socket.gethostname()}'}",
            f"--queues={settings.job_queue}",
            "--without-gossip",
            "--without-mingle",
        ]
        run_worker(app, lambda: worker_runtime(settings), argv)


keys_app = typer.Typer(
    name="keys",
    help="API keys of the service: make, list, revoke (on the registry of AEDETECT_DATABASE_URL / "
    "AEDETECT_DATA_DIR; the server need not run).",
    no_args_is_help=True,
)
app.add_typer(keys_app)
app.add_typer(models_app)

CLI_ACTOR = "command line"


@contextmanager
def _access() -> Iterator[Any]:
    """The key service on the configured registry (without building the rest of the service)."""
    from aedetect.config import get_settings
    from aedetect.registry.access import AccessStore
    from aedetect.services.access import AccessService

    store, engine = AccessStore.from_url(get_settings().resolved_database_url())
    try:
        yield AccessService(store)
    finally:
        engine.dispose()


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="reader (list and score), writer (also upload, train), admin.")],
    name: Annotated[
        str, typer.Option(help="What the key is for (shown in listings and the audit log).")
    ] = "",
) -> None:
    """Make an API key and print its secret (shown only now; the registry keeps a hash)."""
    with _reported_errors(), _access() as access:
        key, secret = access.create_key(role, name)
        access.record(None, "CLI", f"keys create {key.key_id} ({key.role.value})", 201, None, CLI_ACTOR)
        typer.echo(secret)
        typer.echo(f"made key {key.key_id} ({key.name!r}, role {key.role.value})", err=True)


@keys_app.command("list")
def keys_list() -> None:
    """List the keys: id, role, name, when made, and when revoked."""
    with _reported_errors(), _access() as access:
        for key in access.list_keys():
            revoked = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
            made = f"{key.created_at:%Y-%m-%d %H:%M}" if key.created_at else "-"
            typer.echo(f"{key.key_id}  {key.role.value:<6}  {made}  {revoked:<22}  {key.name}")


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The id of the key (see 'aedetect keys list').")],
) -> None:
    """Revoke a key: a running server refuses it within a few seconds."""
    with _reported_errors(), _access() as access:
        key = access.revoke_key(key_id)
        access.record(None, "CLI", f"keys revoke {key.key_id}", 200, None, CLI_ACTOR)
        typer.echo(f"revoked key {key.key_id} ({key.name!r})")
