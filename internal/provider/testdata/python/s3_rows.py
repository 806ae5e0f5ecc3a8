import sys, pyarrow.fs as f
fs, root = f.FileSystem.from_uri(sys.argv[1])
for i in sorted(fs.get_file_info(f.FileSelector(root, recursive=True, allow_not_found=True)), key=lambda i: i.path):
    if i.type == f.FileType.File and i.path.endswith(".jsonl"):
        with fs.open_input_stream(i.path) as s:
            sys.stdout.buffer.write(s.read())
