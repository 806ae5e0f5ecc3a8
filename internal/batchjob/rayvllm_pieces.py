"""The commit protocol of the built-in batch script (rayvllm_batch.py, whose
docstring describes it): where the output's parts live, atomic writes of
pieces, row identity keys, reading back what is committed, and the lease
that keeps a second run off an output. Shipped beside it in the same
py_modules package."""

import hashlib
import json
import os
import re
import socket
import sys
import threading
import time
import uuid

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.fs
import pyarrow.json as pajson
import pyarrow.parquet as pq

# Row identity without an id column: the input file (relative to input.path)
# and the row's ordinal in it. The output carries them under these names.
FILE_COLUMN, ROW_COLUMN = "input_file", "input_row"
# Piece file extensions; the first is written. ".json" is what Ray Data's
# write_json named the files of outputs written before pieces.
EXTENSIONS = {"jsonl": (".jsonl", ".json"), "parquet": (".parquet",), "csv": (".csv",), "openai_batch": (".jsonl",)}
# The lease: expires unless renewed; renewed every LEASE_SECONDS / 3.
LEASE_SECONDS = 60.0
# Examples shown in an error about bad ids.
EXAMPLES = 5


class ConfigError(ValueError):
    """The rendered configuration is not usable."""


class LeaseError(RuntimeError):
    """Another run holds the output."""


def _filesystem(path):
    """Returns (pyarrow filesystem, path inside it) for a local path or URI."""
    if "://" in path:
        return pyarrow.fs.FileSystem.from_uri(path)
    return pyarrow.fs.LocalFileSystem(), os.path.abspath(path)


def _is_local(fs):
    return isinstance(fs, pyarrow.fs.LocalFileSystem)


def metrics_path(out):
    return out["path"].rstrip("/") + ".metrics.json"


def errors_path(out):
    """Where the rows skipped with on_row_error = "skip" go: the identity and
    the engine's error message, in the output's format."""
    return out["path"].rstrip("/") + ".errors"


def lease_path(out):
    return out["path"].rstrip("/") + ".lease"


def _join(root, name):
    return root.rstrip("/") + "/" + name


def encode(table, fmt):
    """The bytes of one piece. JSONL is written from Python values, so an id
    keeps its JSON type (pandas would turn an int column with a null into
    floats)."""
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in table.to_pylist()).encode()
    buf = pa.BufferOutputStream()
    if fmt == "parquet":
        pq.write_table(table, buf)
    else:
        pacsv.write_csv(table, buf)
    return buf.getvalue().to_pybytes()


def temp_name(name):
    """put_atomic's hidden temporary name for name; readers skip it and
    prepare_output deletes what a killed run left."""
    return f".{name}.tmp-{uuid.uuid4().hex[:8]}"


def put_atomic(fs, path, data):
    """Makes path hold data, whole or not at all. Both ways go through a
    hidden temporary name in the same directory. Local: fsynced, renamed
    over path, then the directory fsynced (the rename itself is durable).
    Elsewhere: moved (S3: a server-side copy) once written, because
    pyarrow's S3 stream completes its upload on close() also when the
    with-block is left by an exception, such as a write task cancelled when
    its job is stopped: that committed an empty piece under the final name."""
    if not _is_local(fs):
        d, _, name = path.rpartition("/")
        tmp = _join(d, temp_name(name))
        with fs.open_output_stream(tmp) as f:
            f.write(data)
        fs.move(tmp, path)
        return
    d, name = os.path.split(path)
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, temp_name(name))
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_json_file(path):
    fs, p = _filesystem(path)
    try:
        with fs.open_input_stream(p) as f:
            return json.loads(f.read())
    except (FileNotFoundError, OSError, ValueError):
        return None


# Identity keys: 128-bit BLAKE2b digests. A collision (which would skip a
# row) has a probability below n²/2¹²⁹, about 1e-24 for 20 million rows.

def _digest(s):
    return hashlib.blake2b(s.encode(), digest_size=16).digest()


def row_keys(table, ids):
    if len(ids) == 1:
        return np.array([_digest(str(v)) for v in table.column(ids[0]).to_pylist()], dtype="S16")
    files, rows = table.column(FILE_COLUMN).to_pylist(), table.column(ROW_COLUMN).to_pylist()
    return np.array([_digest(f"{f}\n{r}") for f, r in zip(files, rows)], dtype="S16")


def id_schema(ids, id_type):
    if len(ids) == 1:
        return pa.schema([(ids[0], id_type)])
    return pa.schema([(FILE_COLUMN, pa.string()), (ROW_COLUMN, pa.int64())])


def read_piece_ids(fs, path, fmt, ids, id_type):
    """The identity columns of one committed piece, read with the pinned
    types (a CSV "001" stays a string, a JSONL int stays an int)."""
    schema = id_schema(ids, id_type)
    with fs.open_input_file(path) as f:
        if fmt == "parquet":
            names = pq.read_schema(f).names
            table = pq.read_table(f, columns=ids) if all(c in names for c in ids) else None
        elif fmt in ("jsonl", "openai_batch"):
            table = pajson.read_json(f, read_options=pajson.ReadOptions(block_size=64 << 20), parse_options=pajson.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="ignore"))
            if table.num_rows and all(table.column(c).null_count == table.num_rows for c in ids):
                table = None  # the pinned columns are absent from every line
        else:
            header = pacsv.read_csv(f, read_options=pacsv.ReadOptions(skip_rows_after_names=1 << 30)).column_names
            f.seek(0)
            table = pacsv.read_csv(f, convert_options=pacsv.ConvertOptions(
                column_types={c: schema.field(c).type for c in ids}, include_columns=ids)) if all(c in header for c in ids) else None
    if table is None:
        raise ConfigError(f"resume: the existing output {path} has no column {', '.join(ids)}")
    return table


def committed_keys(out, ids, id_type):
    """Sorted keys of the rows in the committed output and error pieces,
    read one piece at a time."""
    fs, _ = _filesystem(out["path"])
    parts = [np.empty(0, dtype="S16")]
    for root in (out["path"], errors_path(out)):
        root = _filesystem(root)[1]
        infos = fs.get_file_info(pyarrow.fs.FileSelector(root, recursive=True, allow_not_found=True))
        for info in sorted(infos, key=lambda i: i.path):
            if info.type == pyarrow.fs.FileType.File and info.base_name[:1] not in "._" and info.path.endswith(EXTENSIONS[out["format"]]):
                parts.append(row_keys(read_piece_ids(fs, info.path, out["format"], ids, id_type), ids))
    return np.unique(np.concatenate(parts))


def check_ids(ds, id_column):
    """Counts the input's rows and checks its ids: (rows, keys, problem
    message or None). The keys stay in this task."""
    nulls, null_examples, parts, rows = 0, [], [], 0
    for b in ds.select_columns([id_column, FILE_COLUMN, ROW_COLUMN]).iter_batches(batch_size=None, batch_format="pyarrow"):
        rows += b.num_rows
        col = b.column(id_column)
        if col.null_count:
            nulls += col.null_count
            bad = b.filter(pc.is_null(col))
            null_examples += [f"{f} row {r}" for f, r in zip(bad.column(FILE_COLUMN).to_pylist()[:EXAMPLES],
                                                           bad.column(ROW_COLUMN).to_pylist()[:EXAMPLES])]
            b = b.filter(pc.is_valid(col))
        parts.append(row_keys(b, [id_column]))
    keys, counts = np.unique(np.concatenate(parts or [np.empty(0, dtype="S16")]), return_counts=True)
    dup = keys[counts > 1]
    problems = []
    if nulls:
        problems.append(f"{nulls} row(s) have a null id (e.g. {', '.join(null_examples[:EXAMPLES])})")
    if len(dup):
        examples = {}
        want = set(dup[:EXAMPLES].tolist())
        for b in ds.select_columns([id_column, FILE_COLUMN, ROW_COLUMN]).iter_batches(batch_size=None, batch_format="pyarrow"):
            b = b.filter(pc.is_valid(b.column(id_column)))
            for k, v, f, r in zip(row_keys(b, [id_column]).tolist(), b.column(id_column).to_pylist(),
                                  b.column(FILE_COLUMN).to_pylist(), b.column(ROW_COLUMN).to_pylist()):
                if k in want:
                    examples.setdefault(json.dumps(v), []).append(f"{f} row {r}")
        shown = "; ".join(f"{v} at {', '.join(sorted(w)[:3])}" for v, w in sorted(examples.items()))
        problems.append(f"{len(dup)} id(s) appear more than once, in {int(counts[counts > 1].sum())} rows (e.g. {shown})")
    return rows, keys, "; ".join(problems) or None


_KEYS = {}


def drop_committed(batch, ids, keys):
    import ray

    ref = keys[0]
    done = _KEYS.get(ref.hex())
    if done is None:
        done = _KEYS[ref.hex()] = ray.get(ref)
    k = row_keys(batch, ids)
    i = np.minimum(np.searchsorted(done, k), len(done) - 1)
    return batch.filter(pa.array(done[i] != k))


# The lease: one writer per output path.

def _s3(path):
    import boto3

    bucket, _, key = _filesystem(path)[1].partition("/")
    return boto3.client("s3"), bucket, key


class Lease:
    """<output path>.lease, taken by a conditional create and renewed every
    LEASE_SECONDS / 3. A holder whose lease expired, or whose process on
    this host is gone, is taken over."""

    def __init__(self, out, run_key):
        self.path = lease_path(out)
        self.fs, self.p = _filesystem(self.path)
        self.scheme = "local" if _is_local(self.fs) else self.path.split("://")[0]
        self.token = uuid.uuid4().hex
        self.run_key, self.stop = run_key, threading.Event()

    def body(self):
        return json.dumps({"token": self.token, "run_key": self.run_key, "host": socket.gethostname(), "pid": os.getpid(),
                           "expires": time.time() + LEASE_SECONDS}).encode()

    def _create(self):
        if self.scheme == "local":
            os.makedirs(os.path.dirname(self.p), exist_ok=True)
            try:
                fd = os.open(self.p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "wb") as f:
                f.write(self.body())
                f.flush()
                os.fsync(f.fileno())
            return True
        from botocore.exceptions import ClientError

        s3, bucket, key = _s3(self.path)
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=self.body(), IfNoneMatch="*")
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict"):
                return False
            raise
        return True

    def _stale(self, holder):
        if holder.get("expires", 0) < time.time():
            return True
        if holder.get("host") == socket.gethostname():
            try:
                os.kill(int(holder["pid"]), 0)
            except ProcessLookupError:
                return True
            except (PermissionError, KeyError, ValueError, TypeError):
                pass
        return False

    def acquire(self):
        if self.scheme not in ("local", "s3"):
            print(f"rayvllm_batch: no lease on {self.scheme}:// outputs: nothing stops a second run on {self.path}", file=sys.stderr)
            self.scheme = None
            return
        for _ in range(3):
            if self._create():
                threading.Thread(target=self._renew, daemon=True).start()
                return
            holder = read_json_file(self.path)
            if holder is None:
                continue  # released meanwhile
            if not self._stale(holder):
                raise LeaseError(
                    f"output.path {self.path[:-len('.lease')]} is being written by another run (host {holder.get('host')}, "
                    f"pid {holder.get('pid')}, lease {self.path} valid for {holder.get('expires', 0) - time.time():.0f} s more). "
                    "Wait for it to finish or stop it, or write to another output.path.")
            self._delete()
        raise LeaseError(f"could not take the lease {self.path}: other runs keep taking it")

    def _renew(self):
        while not self.stop.wait(LEASE_SECONDS / 3):
            try:
                put_atomic(self.fs, self.p, self.body())
            except OSError:
                pass

    def _delete(self):
        try:
            self.fs.delete_file(self.p)
        except (FileNotFoundError, OSError):
            pass

    def release(self):
        self.stop.set()
        if self.scheme and (read_json_file(self.path) or {}).get("token") == self.token:
            self._delete()


def run_key():
    """The provider's submission id of this Ray job minus "-retry-N": the
    same for every attempt of one apply, new for the next apply."""
    try:
        meta = json.loads(os.environ.get("RAY_JOB_CONFIG_JSON_ENV_VAR") or "{}").get("metadata") or {}
    except ValueError:
        return ""
    return re.sub(r"-retry-\d+$", "", meta.get("job_submission_id") or "")


def abort_multipart_uploads(out):
    """Aborts the incomplete multipart uploads a killed run left under the
    output (invisible, but billed). Needs boto3, as the lease does."""
    for root in (out["path"], errors_path(out)):
        s3, bucket, key = _s3(root)
        for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=key.rstrip("/") + "/"):
            for u in page.get("Uploads", []):
                s3.abort_multipart_upload(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"])
