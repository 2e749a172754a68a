// Archiving one WAL file: a port of lib/wal/archive.ts archiveWalFile. Check that %p is what %f
// claims, then copy it into the archive directory durably (temp file in that directory, fsync,
// link(2) into place, which fails when the name exists, fsync the directory). An identical file
// already archived is success (PostgreSQL retries after crashes); a different file under the same
// name is a loud failure and the archived one is never overwritten. Concurrent archivers of one
// file each write their own temp file: one link wins, the others compare.
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

type outcome int

const (
	archived outcome = iota
	alreadyArchived
)

// failure is an error with an operator hint; invalid ones (bad input, nothing written) exit 2.
type failure struct {
	message string
	hint    string
	invalid bool
}

func (f *failure) Error() string { return f.message }

// inputInvalid mirrors lib/errors.ts InputInvalid: `field: message`, exit 2.
func inputInvalid(field, message, hint string) *failure {
	return &failure{message: field + ": " + message, hint: hint, invalid: true}
}

func checkWalName(name string) error {
	if !walFilePattern.MatchString(name) {
		return inputInvalid("%f", `"`+name+`" is not a WAL file name`, "archive_command must pass %p %f, restore_command %f %p")
	}
	return nil
}

// checkWalContent refuses a source that is not the WAL file its name says (reads the first bytes,
// or the whole of a text file).
func checkWalContent(source *os.File, path, name string, size int64) error {
	kind := walFileKind(name)
	text := kind == "history" || kind == "backup"
	want := int64(walLongHeaderBytes)
	if text {
		want = min(size, walTextFileMaxBytes)
	}
	head := make([]byte, want)
	n, err := source.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	head = head[:n]
	var problem string
	if text {
		problem = walTextFileProblem(name, head, size)
	} else {
		problem = walSegmentProblem(name, head, size)
	}
	if problem == "" {
		return nil
	}
	hint := "archive_command must pass %p %f exactly as PostgreSQL gives them"
	if !text {
		hint = "archive_command must pass %p %f of a WAL segment PostgreSQL wrote (pg_wal/<segment>); a truncated or foreign file must never enter the archive"
	}
	return inputInvalid("%p", fmt.Sprintf("%s %s; refusing to archive it as %s", path, problem, name), hint)
}

// archiveWalFile archives sourcePath (relative to cwd unless absolute) as name into archiveDir.
func archiveWalFile(sourcePath, name, archiveDir, cwd string) (outcome, error) {
	if err := checkWalName(name); err != nil {
		return 0, err
	}
	source := sourcePath
	if !filepath.IsAbs(source) {
		source = filepath.Join(cwd, source)
	}
	info, err := os.Stat(source)
	if err != nil || !info.Mode().IsRegular() {
		return 0, inputInvalid("%p", "source "+source+" does not exist", "archive_command must pass %p (path relative to the data directory)")
	}
	in, err := os.Open(source)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	if err := checkWalContent(in, source, name, info.Size()); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(archiveDir, 0o777); err != nil {
		return 0, diskFullOr(err, archiveDir, "mkdir")
	}
	target := filepath.Join(archiveDir, name)
	if _, err := os.Stat(target); err == nil {
		return compareExisting(source, target)
	}
	linked, err := copyNoReplace(in, archiveDir, name, target)
	if err != nil {
		return 0, err
	}
	if linked {
		return archived, nil
	}
	// Lost a race with a concurrent archiver of the same file: the same rules apply.
	return compareExisting(source, target)
}

// copyNoReplace copies in to a temp file beside target and links it into place unless target
// exists (then false); durable when true. The temp file is gone either way.
func copyNoReplace(in *os.File, dir, name, target string) (bool, error) {
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return false, err
	}
	// Hidden and ending in .partial, like lib/pipeline/atomic-file.ts: listings ignore it, sweeps remove it.
	temp := filepath.Join(dir, "."+name+"."+hex.EncodeToString(suffix)+".partial")
	out, err := os.OpenFile(temp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640) // not world-readable: WAL holds every row written
	if err != nil {
		return false, diskFullOr(err, target, "open")
	}
	err = writeAndLink(in, out, temp, target)
	os.Remove(temp)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, fsyncDir(dir)
}

// writeAndLink fills out (the temp file) from in, fsyncs and closes it, and links it to target:
// fs.ErrExist when target exists.
func writeAndLink(in, out *os.File, temp, target string) error {
	// *os.File to *os.File: copy_file_range(2) on Linux, so the bytes never pass through user space.
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return diskFullOr(err, target, "write")
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return diskFullOr(err, target, "fsync")
	}
	if err := out.Close(); err != nil {
		return diskFullOr(err, target, "close")
	}
	if err := os.Link(temp, target); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fs.ErrExist
		}
		return diskFullOr(err, target, "link")
	}
	return nil
}

func fsyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// compareExisting: an identical archived file is success, a different one a loud failure.
func compareExisting(source, target string) (outcome, error) {
	same, err := sameContent(source, target)
	if err != nil {
		return 0, err
	}
	if same {
		return alreadyArchived, nil
	}
	a, errA := sha256File(source)
	b, errB := sha256File(target)
	if err := errors.Join(errA, errB); err != nil {
		return 0, err
	}
	return 0, &failure{
		message: fmt.Sprintf("%s already exists with different content (sha256 %s..., new %s...); refusing to overwrite", target, b[:16], a[:16]),
		hint:    "two clusters may be archiving into the same directory, or the archive was restored from elsewhere: investigate before removing anything",
	}
}

// sameContent compares two files byte for byte (cheaper than hashing both; the hashes are only
// computed for the message when they differ).
func sameContent(a, b string) (bool, error) {
	fa, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	ia, err := fa.Stat()
	if err != nil {
		return false, err
	}
	ib, err := fb.Stat()
	if err != nil {
		return false, err
	}
	if ia.Size() != ib.Size() {
		return false, nil
	}
	bufA, bufB := make([]byte, 1<<20), make([]byte, 1<<20)
	for {
		na, errA := io.ReadFull(fa, bufA)
		nb, errB := io.ReadFull(fb, bufB)
		if na != nb || !bytes.Equal(bufA[:na], bufB[:nb]) {
			return false, nil
		}
		endA := errors.Is(errA, io.EOF) || errors.Is(errA, io.ErrUnexpectedEOF)
		endB := errors.Is(errB, io.EOF) || errors.Is(errB, io.ErrUnexpectedEOF)
		if errA != nil && !endA {
			return false, errA
		}
		if errB != nil && !endB {
			return false, errB
		}
		if endA || endB {
			return endA && endB, nil
		}
	}
}

func sha256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
