package batchjob

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Committed is what an output path already holds from earlier runs, in
// the script's layout (rayvllm_batch.py's docstring): committed pieces
// part-* under the output and under <output>.errors, and the _SUCCESS
// manifest a finished run leaves.
type Committed struct {
	// Pieces counts the committed pieces, errors included.
	Pieces int
	// Rows is the rows committed when the last run finished, from its
	// _SUCCESS manifest (committed_before + rows + failed_rows); nil
	// without a manifest.
	Rows *int64
}

// Any says whether a run that overwrites the output deletes something.
func (c Committed) Any() bool { return c.Pieces > 0 || c.Rows != nil }

// ErrNotLocal is CommittedOutput's answer for a URI (s3://, gs://, ...).
var ErrNotLocal = errors.New("not a path on this machine")

// CommittedOutput reads what a local output path holds. A path that does
// not exist holds nothing. For a URI it returns ErrNotLocal.
func CommittedOutput(out string) (Committed, error) {
	var c Committed
	if strings.Contains(out, "://") {
		return c, ErrNotLocal
	}
	out = strings.TrimRight(out, "/")
	for _, root := range []string{out, out + ".errors"} {
		err := filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasPrefix(d.Name(), "part-") {
				c.Pieces++
			}
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return c, err
		}
	}
	data, err := os.ReadFile(filepath.Join(out, "_SUCCESS")) // #nosec G304 -- the user's own output path
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	var m struct {
		CommittedBefore int64 `json:"committed_before"`
		Metrics         struct {
			Rows       int64 `json:"rows"`
			FailedRows int64 `json:"failed_rows"`
		} `json:"metrics"`
	}
	if json.Unmarshal(data, &m) == nil {
		rows := m.CommittedBefore + m.Metrics.Rows + m.Metrics.FailedRows
		c.Rows = &rows
	}
	return c, nil
}
