"""Remote logs (s3://) against a real S3-protocol server: moto's, started on localhost by
the session fixture. The sample dumps are uploaded and every command's result on the
bucket is compared with the same command on the local files. gs://, az:// and hf:// cannot
be reached offline: their URL handling and dispatch are tested, not their stores."""

from __future__ import annotations

import gzip
import json
import logging
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import SAMPLES
from typer.testing import CliRunner

from grpoflaw_cli.cli import app
from grpoflaw_cli.ingest import remote

if os.environ.get("CI"):  # CI installs .[dev], which has both: a skip would hide a bad install
    import moto.server as moto_server
    import obstore  # noqa: F401
else:
    pytest.importorskip("obstore")
    moto_server = pytest.importorskip("moto.server")

SLOW = pytest.mark.slow  # a 36-file folder: a second or two against the server

BUCKET = "runs"
VERL = SAMPLES / "trainers" / "verl_multi_reward"
WANDB = SAMPLES / "trainers" / "trl_wandb" / "media" / "table"


@pytest.fixture(scope="session")
def odd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Odd logs made for the session: gzipped, a malformed line, a byte-order mark."""
    folder = tmp_path_factory.mktemp("odd")
    (folder / "multitask.jsonl.gz").write_bytes(
        gzip.compress((SAMPLES / "multitask.jsonl").read_bytes())
    )
    seed = (SAMPLES / "seed.jsonl").read_bytes()
    (folder / "bad.jsonl").write_bytes(seed.replace(b"\n", b"\n{oops\n", 1) + b'{"step": 3')
    (folder / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + seed)
    return folder


@pytest.fixture(scope="session")
def s3(odd: Path) -> Iterator[dict[str, str]]:
    """A moto S3 server on a free localhost port, holding the sample dumps under
    ``s3://runs/``; yields the environment that reaches it."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request otherwise
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
    }
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=BUCKET)
    uploads = {
        "multitask.jsonl": SAMPLES / "multitask.jsonl",
        "multitask.jsonl.gz": odd / "multitask.jsonl.gz",
        "seed.csv": SAMPLES / "seed.csv",
        "seed.parquet": SAMPLES / "seed.parquet",
        **{f"verl/{p.name}": p for p in VERL.iterdir()},
        "verl/notes.txt": SAMPLES / "seed.csv",  # not a log file: left out, as locally
        "odd/bad.jsonl": odd / "bad.jsonl",
        "odd/bom.jsonl": odd / "bom.jsonl",
        **{f"wandb/{p.name}": p for p in WANDB.iterdir()},
        "brackets/run [1].jsonl": SAMPLES / "seed.jsonl",  # a key that reads as a glob
        "brackets/run [2]*.jsonl": SAMPLES / "seed.jsonl",
    }
    for key, path in uploads.items():
        client.upload_file(str(path), BUCKET, key)
    yield env
    server.stop()


@pytest.fixture
def on_s3(s3: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in s3.items():
        monkeypatch.setenv(name, value)
    remote._STORES.clear()  # a store is made for the environment of its first use
    return s3


def run(*args: object) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "140"})


def report(*args: object) -> dict[str, Any]:
    result = run("compare", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    files = out["summary"].pop("files")
    return {"report": out, "files": [Path(f).name for f in files]}


@pytest.mark.parametrize(
    ("local", "url"),
    [
        (SAMPLES / "multitask.jsonl", f"s3://{BUCKET}/multitask.jsonl"),
        (SAMPLES / "seed.csv", f"s3://{BUCKET}/seed.csv"),
        (SAMPLES / "seed.parquet", f"s3://{BUCKET}/seed.parquet"),
        (VERL, f"s3://{BUCKET}/verl/"),  # a prefix: every log file below it
        pytest.param(VERL, f"s3://{BUCKET}/verl", marks=SLOW),  # without the slash
        pytest.param(f"{VERL}/*.jsonl", f"s3://{BUCKET}/verl/*.jsonl", marks=SLOW),
        (f"{VERL}/1?.jsonl", f"s3://{BUCKET}/verl/1?.jsonl"),
    ],
)
def test_compare_remote_equals_local(on_s3: dict[str, str], local: Path, url: str) -> None:
    here, there = report(local), report(url)
    assert there == here
    if "verl" in url and "?" not in url:  # natural order: 2 before 10, as locally
        assert there["files"][:3] == ["1.jsonl", "2.jsonl", "3.jsonl"]


def test_gzip_remote_equals_local(on_s3: dict[str, str]) -> None:
    here = report(SAMPLES / "multitask.jsonl")["report"]
    assert report(f"s3://{BUCKET}/multitask.jsonl.gz")["report"] == here


def test_large_log_paths_remote_equals_local(
    on_s3: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a large log: the search for late fields (Polars' streaming line scan, or the
    bytes of a small file read through the store) and the streaming pass."""
    from grpoflaw_cli.ingest import files, late_fields, log

    monkeypatch.setattr(files, "SMALL_LOG_BYTES", 1_000)
    monkeypatch.setattr(log, "SMALL_LOG_BYTES", 1_000)
    here = report(SAMPLES / "multitask.jsonl")
    assert report(f"s3://{BUCKET}/multitask.jsonl") == here
    monkeypatch.setattr(late_fields, "TINY_FILE_BYTES", 10_000_000)  # read by us, not Polars
    assert report(f"s3://{BUCKET}/multitask.jsonl") == here


def test_named_twice_read_once(on_s3: dict[str, str]) -> None:
    url = f"s3://{BUCKET}/seed.csv"
    twice = run("compare", url, url, "--format", "json")
    assert twice.exit_code == 0, twice.output
    assert f"'{url}' is the same file as '{url}' (named twice, or a link): read once" in (
        twice.stderr
    )
    assert json.loads(twice.stdout)["summary"]["rollouts"] == 14


def test_api_reads_urls(on_s3: dict[str, str], tmp_path: Path) -> None:
    from grpoflaw_cli import api
    from grpoflaw_cli.errors import UsageError
    from grpoflaw_cli.ingest import ColumnMap

    log = api.read([f"s3://{BUCKET}/seed.parquet"], ColumnMap())
    local = api.read([SAMPLES / "seed.parquet"], ColumnMap())
    there, here = api.compare(log).report(), api.compare(local).report()
    assert there["summary"].pop("files") == [f"s3://{BUCKET}/seed.parquet"]
    here["summary"].pop("files")
    assert there == here
    with pytest.raises(UsageError, match="outputs are written to a local file"):
        api.write_advantages(log, f"s3://{BUCKET}/advantages.parquet")


def test_byte_order_mark_remote_equals_local(on_s3: dict[str, str], odd: Path) -> None:
    assert report(f"s3://{BUCKET}/odd/bom.jsonl") == report(odd / "bom.jsonl")


def test_skip_bad_lines_remote_equals_local(on_s3: dict[str, str], odd: Path) -> None:
    """The lines Polars cannot parse are found by reading the remote file's bytes."""
    here = run("compare", odd / "bad.jsonl", "--skip-bad-lines", "--format", "json")
    there = run("compare", f"s3://{BUCKET}/odd/bad.jsonl", "--skip-bad-lines", "--format", "json")
    assert there.exit_code == here.exit_code == 0, there.output
    assert f"Skipped 2 malformed lines in 's3://{BUCKET}/odd/bad.jsonl': line 2, 16" in there.output
    assert there.output.replace(f"s3://{BUCKET}/odd", "DIR") == here.output.replace(str(odd), "DIR")


def test_malformed_line_named_as_locally(on_s3: dict[str, str], odd: Path) -> None:
    here = refused(odd / "bad.jsonl")
    there = refused(f"s3://{BUCKET}/odd/bad.jsonl")
    assert "line 2" in there
    assert there.replace(f"s3://{BUCKET}/odd", "DIR") == here.replace(str(odd), "DIR")


@SLOW
def test_advantages_remote_equals_local(on_s3: dict[str, str], tmp_path: Path) -> None:
    frames = []
    for name, log in (("local", VERL), ("remote", f"s3://{BUCKET}/verl/")):
        out = tmp_path / f"{name}.parquet"
        result = run("advantages", log, "-o", out)
        assert result.exit_code == 0, result.output
        frames.append(pl.read_parquet(out))
    assert frames[0].height > 0
    assert frames[1].equals(frames[0])


@SLOW
def test_inspect_remote(on_s3: dict[str, str]) -> None:
    here = run("inspect", VERL)
    there = run("inspect", f"s3://{BUCKET}/verl/")
    assert there.exit_code == 0, there.output
    assert "864" in there.output
    assert there.output == here.output


@SLOW
def test_watch_remote(on_s3: dict[str, str]) -> None:
    result = run("watch", f"s3://{BUCKET}/verl/", "--refreshes", "1", "--interval", "0.1")
    assert result.exit_code == 0, result.output
    local = run("watch", VERL, "--refreshes", "1", "--interval", "0.1")
    assert result.output.split()[-20:] == local.output.split()[-20:]


def test_watch_one_remote_object_holds_back_its_newest_step(on_s3: dict[str, str]) -> None:
    """A logger that uploads its growing file again and again: as a local appended file,
    the newest step is held back (multitask.jsonl's last step, 40, is shown as still
    being written), and the header names the URL as given, not as a Path spells it."""
    url = f"s3://{BUCKET}/multitask.jsonl"
    result = run("watch", url, "--refreshes", "1", "--interval", "0.1")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"watching {url} " in text
    assert "waiting: step 40 is still being written" in text
    assert "in 39 iterations" in text


def test_keys_with_glob_characters_are_read_as_named(on_s3: dict[str, str], tmp_path: Path) -> None:
    """Keys holding [, ] or *: a listed prefix reads them, and each named alone is that
    object, as local files of such names are (a trial got a regex error)."""
    for name in ("run [1].jsonl", "run [2]*.jsonl"):
        (tmp_path / name).write_bytes((SAMPLES / "seed.jsonl").read_bytes())
    there = json.dumps(report(f"s3://{BUCKET}/brackets/")).replace(f"s3://{BUCKET}/brackets/", "")
    here = json.dumps(report(tmp_path)).replace(f"{tmp_path}/", "")
    assert there == here  # the flags name the files: by the names the two share
    alone = report(f"s3://{BUCKET}/brackets/run [1].jsonl")
    assert alone == report(tmp_path / "run [1].jsonl")
    assert alone["report"]["summary"]["rollouts"] == 14


def test_wandb_tables_remote_equal_local(on_s3: dict[str, str]) -> None:
    there = report(f"s3://{BUCKET}/wandb/")
    assert there["report"]["summary"]["source"] == "trl"
    assert there == report(WANDB)


@SLOW
def test_ray_engine_on_remote_logs_equals_local(on_s3: dict[str, str]) -> None:
    """Ray tasks read the files from the store themselves, with the credentials and
    endpoint of their own environment (here a local Ray started in the test's)."""
    import ray

    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        there = report(f"s3://{BUCKET}/verl/", "--engine", "ray")
    finally:
        ray.shutdown()
    assert there == report(VERL)


def test_remote_output_refused(on_s3: dict[str, str]) -> None:
    result = run("advantages", f"s3://{BUCKET}/seed.csv", "-o", f"s3://{BUCKET}/adv.parquet")
    assert result.exit_code == 2
    assert "written to a local file" in result.output
    assert "Traceback" not in result.output


# --- errors: exit code 2 and a message, never a traceback ---------------------------------


def refused(*args: object) -> str:
    result = run("compare", *args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    return " ".join(result.output.split())


def test_missing_bucket(on_s3: dict[str, str]) -> None:
    assert "no such bucket" in refused("s3://no-such-bucket/run/")


def test_missing_key(on_s3: dict[str, str]) -> None:
    out = refused(f"s3://{BUCKET}/nothing/here.jsonl")
    assert "no such object or prefix" in out


def test_not_a_log_file(on_s3: dict[str, str]) -> None:
    assert "unknown log format (extension '.txt')" in refused(f"s3://{BUCKET}/verl/notes.txt")


def test_glob_matching_nothing(on_s3: dict[str, str]) -> None:
    assert "matches no log files" in refused(f"s3://{BUCKET}/verl/*.parquet")


@pytest.mark.parametrize("boto3", [True, False], ids=["boto3", "object_store"])
def test_missing_credentials(
    on_s3: dict[str, str], monkeypatch: pytest.MonkeyPatch, boto3: bool
) -> None:
    """No keys, and no instance to ask for some (the metadata endpoint is a closed port);
    found through boto3's chain when it is installed (as Polars does), else object_store's."""
    if boto3:
        pytest.importorskip("boto3")
    else:
        monkeypatch.setattr(remote, "has_boto3", lambda: False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_METADATA_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    out = refused(f"s3://{BUCKET}/seed.csv")
    assert "no credentials found" in out and "AWS_ACCESS_KEY_ID" in out


def test_aws_profile(
    on_s3: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Keys in a profile of ~/.aws/credentials, as on a laptop with AWS SSO: boto3 finds
    them for the listing and for Polars' scans alike."""
    pytest.importorskip("boto3")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    credentials = tmp_path / "credentials"
    credentials.write_text("[runs]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_PROFILE", "runs")
    assert report(f"s3://{BUCKET}/verl/") == report(VERL)


def test_unreachable_endpoint(on_s3: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")
    out = refused(f"s3://{BUCKET}/seed.csv")
    assert "cannot reach the storage endpoint" in out


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


# --- the other stores: URL handling and dispatch (no network here) -------------------------


@pytest.mark.parametrize(
    ("url", "parts"),
    [
        ("s3://runs/a/b.jsonl", ("s3", "runs", "a/b.jsonl")),
        ("gs://runs/a/", ("gs", "runs", "a/")),
        ("gcs://runs", ("gs", "runs", "")),
        ("az://box/x.parquet", ("az", "box", "x.parquet")),
        ("abfss://box/x.parquet", ("az", "box", "x.parquet")),
        ("hf://datasets/org/logs/train/0.parquet", ("hf", "datasets/org/logs", "train/0.parquet")),
        ("hf://datasets/org/logs@main/", ("hf", "datasets/org/logs@main", "")),
        ("hf://org/model/x.jsonl", ("hf", "org/model", "x.jsonl")),
        ("s3:/runs/a.jsonl", ("s3", "runs", "a.jsonl")),  # as a Path writes it
    ],
)
def test_split(url: str, parts: tuple[str, str, str]) -> None:
    assert remote.split(url) == parts


def test_local_names_are_not_remote(tmp_path: Path) -> None:
    assert not remote.is_remote(tmp_path / "s3" / "run.jsonl")
    assert not remote.is_remote("file://x.jsonl")
    assert remote.is_remote(Path("s3://runs/x.jsonl"))  # the Path of a URL


def test_remote_path_is_handled_as_its_url() -> None:
    path = remote.remote_path("hf://datasets/org/logs/train/0.jsonl.gz")
    assert str(path) == "hf://datasets/org/logs/train/0.jsonl.gz"
    assert path.suffixes == [".jsonl", ".gz"] and path.parent.name == "train"


@pytest.mark.parametrize("module", ["huggingface_hub", "obstore"])
def test_missing_extra_names_the_install(
    module: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    monkeypatch.setattr(remote, "_STORES", {})
    url = "hf://datasets/org/logs/" if module == "huggingface_hub" else "gs://runs/x/"
    out = refused(url)
    assert f"needs {module}" in out and "pip install 'grpoflaw[cloud]'" in out


def test_gs_and_az_go_to_their_stores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each scheme is served by the obstore class of its cloud (built, not reached)."""
    from obstore.store import AzureStore, GCSStore

    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", "account")
    monkeypatch.setattr(remote, "_STORES", {})
    gs = remote._store("gs://runs/a.jsonl")
    az = remote._store("az://box/a.jsonl")
    assert isinstance(gs, remote._ObjectStore) and isinstance(gs.store, GCSStore)
    assert isinstance(az, remote._ObjectStore) and isinstance(az.store, AzureStore)


def test_azure_without_an_account_names_its_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ACCOUNT_NAME", "ACCOUNT", "ACCOUNT_KEY"):
        monkeypatch.delenv(f"AZURE_STORAGE_{name}", raising=False)
    monkeypatch.setattr(remote, "_STORES", {})
    result = run("compare", "az://box/run/")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "no credentials found" in result.output
    assert "AZURE_STORAGE_ACCOUNT_NAME" in result.output


@pytest.mark.parametrize("url", ["ftp://host/run.jsonl", "http://host/a.jsonl", "file:///a.jsonl"])
def test_a_scheme_of_no_store_is_named(url: str) -> None:
    result = run("compare", url)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert url.split(":")[0] + ":// URLs" in result.output and "no such file" not in result.output


@pytest.mark.parametrize(("url", "form"), [("gs://", "gs://BUCKET"), ("az://", "az://CONTAINER")])
def test_a_url_without_a_bucket_is_shown_its_own_form(url: str, form: str) -> None:
    result = run("compare", url)
    assert result.exit_code == 2 and "names no bucket" in result.output and form in result.output
