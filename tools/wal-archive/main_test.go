// Unit tests of the compiled archive_command. The contract as PostgreSQL sees it (the binary run
// like the Node verb, side by side) is tested in test/integration/wal.test.ts.
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
)

const mib = 1 << 20

type segmentOptions struct {
	segmentSize, blockSize, timeline uint32
	magic, info                      uint16
	pageAddress                      uint64
	fileSize                         int
	tail                             []byte
}

// segment builds a file whose long page header matches name (test/fixtures/wal-segment.ts).
func segment(name string, o segmentOptions) []byte {
	if o.segmentSize == 0 {
		o.segmentSize = 16 * mib
	}
	if o.fileSize == 0 {
		o.fileSize = int(o.segmentSize)
	}
	if o.magic == 0 {
		o.magic = 0xd110
	}
	if o.info == 0 {
		o.info = xlpLongHeader
	}
	if o.blockSize == 0 {
		o.blockSize = 8192
	}
	if o.timeline == 0 {
		o.timeline = uint32(parseHex(name[0:8]))
	}
	if o.pageAddress == 0 {
		perLog := (uint64(1) << 32) / uint64(o.segmentSize)
		o.pageAddress = (parseHex(name[8:16])*perLog + parseHex(name[16:24])) * uint64(o.segmentSize)
	}
	header := make([]byte, 40)
	le := binary.LittleEndian
	le.PutUint16(header[0:], o.magic)
	le.PutUint16(header[2:], o.info)
	le.PutUint32(header[4:], o.timeline)
	le.PutUint64(header[8:], o.pageAddress)
	le.PutUint64(header[24:], 0x6a0de0f20faa28c2)
	le.PutUint32(header[32:], o.segmentSize)
	le.PutUint32(header[36:], o.blockSize)
	out := make([]byte, o.fileSize)
	copy(out, header)
	if len(out) > 40 {
		copy(out[40:], o.tail)
	}
	return out
}

func randomTail(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func TestSegmentChecks(t *testing.T) {
	const name = "000000010000000200000034"
	problem := func(n string, file []byte) string {
		return walSegmentProblem(n, file[:min(40, len(file))], int64(len(file)))
	}
	for _, m := range walPageMagic {
		if p := problem(name, segment(name, segmentOptions{magic: m.magic})); p != "" {
			t.Errorf("PostgreSQL %d: %s", m.version, p)
		}
	}
	accepted := map[string][]byte{
		"000000010000000000000FFF":         segment("000000010000000000000FFF", segmentOptions{segmentSize: mib}),
		"00000001000000070000003F":         segment("00000001000000070000003F", segmentOptions{segmentSize: 64 * mib}),
		"000000030000000000000005":         segment("000000030000000000000005", segmentOptions{timeline: 2}),
		"000000010000000200000034.partial": segment(name, segmentOptions{}),
	}
	for n, file := range accepted {
		if p := problem(n, file); p != "" {
			t.Errorf("%s: %s", n, p)
		}
	}
	refused := []struct {
		what, name string
		file       []byte
		message    string
	}{
		{"a 16 MiB file of zeros", name, make([]byte, 16*mib), `does not start with a WAL page header \(first bytes 00000000`},
		{"a text file", name, []byte(strings.Repeat("root:x:0:0:root:/root:/bin/bash\n", 40)), `does not start with a WAL page header \(first bytes 726f6f74`},
		{"a short file", name, []byte("root:x:0:0\n"), `is 11 bytes, too short to be a WAL segment`},
		{"an empty file", name, nil, `is 0 bytes, too short`},
		{"a truncated segment", name, segment(name, segmentOptions{fileSize: 8 * mib}), `is 8388608 bytes, but its header gives wal_segment_size 16777216: truncated or not a WAL segment`},
		{"trailing bytes", name, segment(name, segmentOptions{fileSize: 16*mib + 1}), `is 16777217 bytes`},
		{"an unknown magic", name, segment(name, segmentOptions{magic: 0xd0ff}), `magic 0xD0FF, which is not one of PostgreSQL 13, 14, 15, 16, 17, 18`},
		{"no long header", name, segment(name, segmentOptions{info: 0x0001}), `no long header \(xlp_info 0x0001\)`},
		{"a segment size no power of two", name, segment(name, segmentOptions{segmentSize: 3 * mib}), `segment size of 3145728 bytes \(must be a power of two`},
		{"a segment size above 1 GiB", name, segment(name, segmentOptions{segmentSize: 2048 * mib, fileSize: 64}), `segment size of 2147483648 bytes`},
		{"a bad page size", name, segment(name, segmentOptions{blockSize: 100}), `page size of 100 bytes`},
		{"a newer timeline", name, segment(name, segmentOptions{timeline: 2}), `header is of timeline 2, the name of timeline 1`},
		{"another segment", name, segment("000000010000000200000035", segmentOptions{}), `header is of WAL address 2/35000000, the name of 2/34000000: the file belongs to another segment`},
		{"beyond the last segment of a log", "000000010000000000000100", segment("000000010000000000000100", segmentOptions{}), `names segment 0x00000100 of log 0x00000000, but a log has only 256 segments of 16777216 bytes`},
	}
	for _, c := range refused {
		if p := problem(c.name, c.file); !regexp.MustCompile(c.message).MatchString(p) {
			t.Errorf("%s: got %q, want /%s/", c.what, p, c.message)
		}
	}
}

func TestTextFileChecks(t *testing.T) {
	backup := []byte("START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nSTOP WAL LOCATION: 0/2000100\n")
	if p := walTextFileProblem("000000010000000000000002.00000028.backup", backup, int64(len(backup))); p != "" {
		t.Error(p)
	}
	if p := walTextFileProblem("00000002.history", []byte("1\t0/3000000\tno recovery target specified\n"), 42); p != "" {
		t.Error(p)
	}
	for _, c := range []struct {
		name    string
		content []byte
		size    int64
		message string
	}{
		{"00000002.history", []byte{1, 0, 2}, 3, "contains NUL bytes: a history file is text"},
		{"00000002.history", nil, 2 * mib, "is 2097152 bytes: a history file is a few lines of text"},
		{"000000010000000000000002.00000028.backup", []byte("root:x:0:0\n"), 11, `does not start with "START WAL LOCATION:" like a backup history file`},
	} {
		if p := walTextFileProblem(c.name, c.content, c.size); p != c.message {
			t.Errorf("%s: got %q, want %q", c.name, p, c.message)
		}
	}
}

func TestNames(t *testing.T) {
	for _, n := range []string{"000000010000000000000001", "00000002.history", "000000010000000000000002.00000028.backup", "000000010000000000000003.partial"} {
		if !walFilePattern.MatchString(n) {
			t.Errorf("%s refused", n)
		}
	}
	for _, n := range []string{"", "passwd", "../etc/passwd", "00000001000000000000000", "000000010000000000000001/../../x", "000000010000000000000001\n", "0000000100000000000000a1"} {
		if walFilePattern.MatchString(n) {
			t.Errorf("%q accepted", n)
		}
	}
}

// archiver runs the command in dir with env, returning its status and stderr.
func archiver(t *testing.T, env map[string]string, args ...string) (int, string) {
	t.Helper()
	var stderr bytes.Buffer
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	return run(args, lookup, &stderr), stderr.String()
}

func writeFile(t *testing.T, path string, content []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	list, _ := os.ReadDir(dir)
	var names []string
	for _, e := range list {
		names = append(names, e.Name())
	}
	return names
}

func TestArchive(t *testing.T) {
	syscall.Umask(0o022)
	dir := t.TempDir()
	archive := filepath.Join(dir, "archive")
	noEnv := map[string]string{"LIFEBOAT_ENV_FILE": filepath.Join(dir, "none.env")}
	name := "000000010000000000000001"
	content := segment(name, segmentOptions{tail: randomTail(mib)})
	source := filepath.Join(dir, "pg_wal", name)
	writeFile(t, source, content)

	if status, stderr := archiver(t, noEnv, "wal", "archive", "--archive-dir", archive, source, name); status != 0 || stderr != "" {
		t.Fatalf("archive: %d %q", status, stderr)
	}
	got, _ := os.ReadFile(filepath.Join(archive, name))
	info, _ := os.Stat(filepath.Join(archive, name))
	if !bytes.Equal(got, content) || info.Mode().Perm() != 0o640 || len(entries(t, archive)) != 1 {
		t.Fatalf("archived file differs (mode %v, entries %v)", info.Mode(), entries(t, archive))
	}

	// Identical again: success, said on stderr. The verb words are optional.
	if status, stderr := archiver(t, noEnv, "--archive-dir="+archive, source, name); status != 0 || stderr != "lifeboat: "+name+" was already archived with identical content\n" {
		t.Fatalf("identical: %d %q", status, stderr)
	}

	// Different content under the name: exit 1, loud, never overwritten, no temp file left.
	impostor := filepath.Join(dir, "other", name)
	writeFile(t, impostor, segment(name, segmentOptions{tail: randomTail(mib)}))
	status, stderr := archiver(t, noEnv, "--archive-dir", archive, impostor, name)
	if status != 1 || !regexp.MustCompile(`^lifeboat: wal archive: `+regexp.QuoteMeta(filepath.Join(archive, name))+` already exists with different content \(sha256 [0-9a-f]{16}\.\.\., new [0-9a-f]{16}\.\.\.\); refusing to overwrite\nhint: two clusters`).MatchString(stderr) {
		t.Fatalf("conflict: %d %q", status, stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(archive, name)); !bytes.Equal(got, content) || len(entries(t, archive)) != 1 {
		t.Fatal("the archived file was touched")
	}

	// Bad input: exit 2, nothing written.
	for _, c := range []struct {
		args    []string
		message string
	}{
		{[]string{"--archive-dir", archive}, "lifeboat: wal archive: arguments: usage: lifeboat wal archive [--archive-dir DIR] %p %f\nhint: "},
		{[]string{"--archive-dir", archive, source, ""}, "arguments: usage: lifeboat wal archive"},
		{[]string{"--archive-dir", archive, "--archive-dir", dir, source, name}, "--archive-dir: archive into one directory"},
		{[]string{"--archive-dir", archive, source, "../etc/passwd"}, `%f: "../etc/passwd" is not a WAL file name`},
		{[]string{"--archive-dir", archive, filepath.Join(dir, "missing"), "000000010000000000000002"}, "%p: source " + filepath.Join(dir, "missing") + " does not exist"},
		{[]string{"--archive-dir", archive, source, "000000010000000000000002"}, "%p: " + source + " header is of WAL address 0/1000000, the name of 0/2000000: the file belongs to another segment; refusing to archive it as 000000010000000000000002\nhint: archive_command must pass %p %f of a WAL segment"},
		{[]string{"--archive-dir", archive, source, "00000002.history"}, "is 16777216 bytes: a history file is a few lines of text; refusing to archive it as 00000002.history\nhint: archive_command must pass %p %f exactly as PostgreSQL gives them"},
	} {
		status, stderr := archiver(t, noEnv, c.args...)
		if status != 2 || !strings.Contains(stderr, c.message) {
			t.Errorf("%v: %d %q, want 2 and %q", c.args, status, stderr, c.message)
		}
	}
	if len(entries(t, archive)) != 1 {
		t.Fatalf("bad input wrote something: %v", entries(t, archive))
	}
}

func TestBackupRoot(t *testing.T) {
	dir := t.TempDir()
	name := "000000010000000000000008"
	source := filepath.Join(dir, name)
	writeFile(t, source, segment(name, segmentOptions{}))
	fromEnv := filepath.Join(dir, "env-root")
	if status, stderr := archiver(t, map[string]string{"BACKUP_ROOT": fromEnv, "LIFEBOAT_ENV_FILE": "/nonexistent"}, source, name); status != 0 {
		t.Fatalf("BACKUP_ROOT from the environment: %d %q", status, stderr)
	}
	if _, err := os.Stat(filepath.Join(fromEnv, "wal-archive", name)); err != nil {
		t.Fatal(err)
	}
	fromFile := filepath.Join(dir, "file-root")
	envFile := filepath.Join(dir, "lifeboat.env")
	writeFile(t, envFile, []byte("# comment\nexport BACKUP_ROOT=/elsewhere\nexport BACKUP_ROOT='"+fromFile+"'\n"))
	if status, stderr := archiver(t, map[string]string{"LIFEBOAT_ENV_FILE": envFile}, source, name); status != 0 {
		t.Fatalf("BACKUP_ROOT from the env file: %d %q", status, stderr)
	}
	if _, err := os.Stat(filepath.Join(fromFile, "wal-archive", name)); err != nil {
		t.Fatal(err)
	}
	status, stderr := archiver(t, map[string]string{"BACKUP_ROOT": "relative/dir"}, source, name)
	if status != 2 || !strings.Contains(stderr, `BACKUP_ROOT: must be an absolute path (got "relative/dir")`) {
		t.Fatalf("relative BACKUP_ROOT: %d %q", status, stderr)
	}
	if got := unquote(`/a/b # a comment`); got != "/a/b" {
		t.Errorf("unquote: %q", got)
	}
}

func TestRaces(t *testing.T) {
	dir := t.TempDir()
	archive := filepath.Join(dir, "archive")
	env := map[string]string{"LIFEBOAT_ENV_FILE": "/nonexistent"}
	race := func(sources []string, name string) []int {
		statuses := make([]int, len(sources))
		var wg sync.WaitGroup
		for i, s := range sources {
			wg.Add(1)
			go func(i int, s string) {
				defer wg.Done()
				statuses[i], _ = archiver(t, env, "--archive-dir", archive, s, name)
			}(i, s)
		}
		wg.Wait()
		return statuses
	}

	// Concurrent archivers of one segment all succeed, with one copy.
	name := "000000010000000000000009"
	source := filepath.Join(dir, "pg_wal", name)
	writeFile(t, source, segment(name, segmentOptions{tail: randomTail(4 * mib)}))
	for i, s := range race([]string{source, source, source, source, source, source}, name) {
		if s != 0 {
			t.Errorf("archiver %d: exit %d", i, s)
		}
	}
	// Two with different content: exactly one wins.
	other := "00000001000000000000000A"
	a, b := filepath.Join(dir, "a", other), filepath.Join(dir, "b", other)
	writeFile(t, a, segment(other, segmentOptions{tail: randomTail(4 * mib)}))
	writeFile(t, b, segment(other, segmentOptions{tail: randomTail(4 * mib)}))
	statuses := race([]string{a, b}, other)
	if (statuses[0] == 0) == (statuses[1] == 0) {
		t.Fatalf("want exactly one winner, got %v", statuses)
	}
	winner := a
	if statuses[1] == 0 {
		winner = b
	}
	same, err := sameContent(winner, filepath.Join(archive, other))
	if err != nil || !same {
		t.Fatalf("the archived file is not the winner's: %v", err)
	}
	if got := entries(t, archive); len(got) != 2 {
		t.Fatalf("want the two segments and no temp file, got %v", got)
	}
}
