package ray

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// MaxPackageBytes is Ray's limit on a package stored in the GCS (the gRPC
// message limit, ray_constants.GRPC_CPP_MAX_MESSAGE_SIZE).
const MaxPackageBytes = 512 << 20

// Package is a runtime_env package (working_dir or py_modules) stored in
// the cluster's GCS, as `ray job submit --working-dir` uploads it.
type Package struct {
	// URI is gcs://_ray_pkg_<content hash>.zip, the name Ray's own client
	// uses for uploaded packages (packaging.py RAY_PKG_PREFIX).
	URI  string
	Data []byte
}

// Name is the URI without the gcs:// scheme.
func (p Package) Name() string { return strings.TrimPrefix(p.URI, "gcs://") }

// zipEpoch is the fixed modification time of every file, so that the same
// content always gives the same bytes and the same URI.
var zipEpoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// PackageFile is one file of a package; Mode's executable bits are kept.
type PackageFile struct {
	Data []byte
	Mode fs.FileMode
}

// NewPackage zips files (slash-separated relative paths) deterministically.
// Ray unpacks a gcs:// zip without stripping a top-level directory, so the
// paths are what the job sees relative to its working_dir (or py_modules
// directory on PYTHONPATH).
func NewPackage(files map[string]PackageFile) (Package, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		if n == "" || strings.HasPrefix(n, "/") || strings.Contains(n, "\\") || strings.Contains("/"+n+"/", "/../") {
			return Package{}, fmt.Errorf("package path %q is not a clean relative path", n)
		}
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		f := files[n]
		mode := fs.FileMode(0o644)
		if f.Mode&0o111 != 0 {
			mode = 0o755
		}
		h := &zip.FileHeader{Name: n, Method: zip.Deflate, Modified: zipEpoch}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return Package{}, err
		}
		if _, err := w.Write(f.Data); err != nil {
			return Package{}, err
		}
		if buf.Len() > MaxPackageBytes {
			return Package{}, fmt.Errorf("package is larger than Ray's %d MiB limit", MaxPackageBytes>>20)
		}
	}
	if err := zw.Close(); err != nil {
		return Package{}, err
	}
	sum := sha256.Sum256(buf.Bytes())
	return Package{URI: PackageURIPrefix + hex.EncodeToString(sum[:16]) + ".zip", Data: buf.Bytes()}, nil
}

// PackageDir packages the regular files under dir. `.git` directories are
// always left out; excludes are path.Match patterns tried against each
// file's relative path and against every element of it (so "*.ckpt" and
// "data" both work).
func PackageDir(dir string, excludes []string) (Package, error) {
	for _, p := range excludes {
		if _, err := path.Match(p, ""); err != nil {
			return Package{}, fmt.Errorf("exclude pattern %q: %w", p, err)
		}
	}
	info, err := os.Stat(dir)
	if err != nil {
		return Package{}, fmt.Errorf("working_dir %q: %w", dir, err)
	}
	if !info.IsDir() {
		return Package{}, fmt.Errorf("working_dir %q is not a directory", dir)
	}
	files := map[string]PackageFile{}
	total := 0
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if excluded(rel, excludes) || d.Name() == ".git" {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		fi, ok := regularFile(p)
		if !ok { // a directory, socket or dangling symlink: not packaged
			return nil
		}
		data, err := os.ReadFile(p) //nolint:gosec // G304: p is a file under the user's working_dir, walked on purpose
		if err != nil {
			return err
		}
		total += len(data)
		if total > MaxPackageBytes {
			return fmt.Errorf("working_dir %q holds more than Ray's %d MiB package limit; exclude large files or use a remote URI (s3://, https://...zip)", dir, MaxPackageBytes>>20)
		}
		files[rel] = PackageFile{Data: data, Mode: fi.Mode()}
		return nil
	})
	if err != nil {
		return Package{}, err
	}
	return NewPackage(files)
}

func excluded(rel string, patterns []string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(strings.TrimSuffix(p, "/"), rel); ok {
			return true
		}
		for _, el := range strings.Split(rel, "/") {
			if ok, _ := path.Match(strings.TrimSuffix(p, "/"), el); ok {
				return true
			}
		}
	}
	return false
}

func packagePath(p Package) string { return "/api/packages/gcs/" + p.Name() }

// PackageExists is GET /api/packages/gcs/{name}. It also pins the package
// in the GCS for a while, so that a job submitted next can use it.
func (c *Client) PackageExists(ctx context.Context, p Package) (bool, error) {
	err := c.do(ctx, request{method: "GET", path: packagePath(p), retry: true})
	if err == nil {
		return true, nil
	}
	if StatusCode(err) == 404 {
		return false, nil
	}
	return false, err
}

// UploadPackage is PUT /api/packages/gcs/{name} with the zip as the body.
// The name is a content hash, so a repeated upload is harmless.
func (c *Client) UploadPackage(ctx context.Context, p Package) error {
	err := c.do(ctx, request{method: "PUT", path: packagePath(p), raw: p.Data, ctype: "application/octet-stream", retry: true})
	return err
}

// EnsurePackage uploads p unless the cluster has it already.
func (c *Client) EnsurePackage(ctx context.Context, p Package) error {
	ok, err := c.PackageExists(ctx, p)
	if err != nil || ok {
		return err
	}
	return c.UploadPackage(ctx, p)
}

// regularFile stats p, following a symlink, and reports whether it is a
// regular file.
func regularFile(p string) (os.FileInfo, bool) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, false
	}
	return fi, fi.Mode().IsRegular()
}

// PackageURIPrefix starts the URI of every package uploaded to Ray's GCS
// (Ray's _private/runtime_env/packaging.py).
const PackageURIPrefix = "gcs://_ray_pkg_"

// IsPackageURI reports whether uri names a package in Ray's GCS.
func IsPackageURI(uri string) bool { return strings.HasPrefix(uri, PackageURIPrefix) }
