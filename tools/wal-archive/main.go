// Command lifeboat-wal-archive is Lifeboat's `wal archive` verb compiled: PostgreSQL's
// archive_command for the local WAL archive, without starting Node for every 16 MB segment (~0.2 s
// of CPU each; this costs about what `cp` + `sync` of the segment costs). It takes the verb's arguments
//
//	lifeboat-wal-archive [wal archive] [--archive-dir DIR] %p %f
//
// and keeps its contract (client/wal-cli.ts, lib/wal/archive.ts, lib/wal/segment.ts), message for
// message: without --archive-dir it archives into $BACKUP_ROOT/wal-archive (the environment, else
// the env file $LIFEBOAT_ENV_FILE or /etc/default/corporate-intel-backup, else /var/backups/postgres).
// Exit 0 when the file is safely archived or an identical one already was; 2 for bad input
// (usage, a name that is no WAL file, a source that is not what its name says), nothing written;
// 1 for any other failure (a different file under the name, disk full, I/O), after which
// PostgreSQL keeps the segment and retries. Never above 125, which would stop PostgreSQL's archiver.
//
// Built by `lifeboat tools ensure` / `stack up` (client/stack/tools.ts) with the standard library
// only; lib/lifeboat-bin.ts walArchiveCommand names it when built and falls back to the Node verb.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.LookupEnv, os.Stderr))
}

// run is the whole command: arguments to exit status, messages on stderr.
func run(args []string, lookupEnv func(string) (string, bool), stderr io.Writer) int {
	if len(args) >= 2 && args[0] == "wal" && args[1] == "archive" {
		args = args[2:]
	}
	name, result, err := archiveCommand(args, lookupEnv)
	if err != nil {
		var f *failure
		hint, status := "", 1
		if errors.As(err, &f) {
			hint = f.hint
			if f.invalid {
				status = 2
			}
		}
		message := "lifeboat: wal archive: " + err.Error()
		if hint != "" {
			message += "\nhint: " + hint
		}
		fmt.Fprintln(stderr, message)
		return status
	}
	if result == alreadyArchived {
		fmt.Fprintf(stderr, "lifeboat: %s was already archived with identical content\n", name)
	}
	return 0
}

func archiveCommand(args []string, lookupEnv func(string) (string, bool)) (string, outcome, error) {
	dirs, rest := option(args, "--archive-dir")
	if len(dirs) > 1 {
		return "", 0, inputInvalid("--archive-dir", "archive into one directory: give --archive-dir once", "set archive_command = 'lifeboat wal archive --archive-dir DIR %p %f'")
	}
	var path, name string
	if len(rest) >= 2 {
		path, name = rest[0], rest[1]
	}
	if path == "" || name == "" {
		return "", 0, inputInvalid("arguments", "usage: lifeboat wal archive [--archive-dir DIR] %p %f", "set archive_command = 'lifeboat wal archive %p %f'")
	}
	explicit := ""
	if len(dirs) == 1 {
		explicit = dirs[0]
	}
	archiveDir, err := archiveDirFrom(explicit, lookupEnv)
	if err != nil {
		return name, 0, err
	}
	cwd, err := os.Getwd()
	if err != nil {
		return name, 0, err
	}
	result, err := archiveWalFile(path, name, archiveDir, cwd)
	return name, result, err
}

// option: every value of name (given as `name VALUE` or `name=VALUE`, possibly repeated) and the
// other arguments.
func option(args []string, name string) (values, rest []string) {
	for i := 0; i < len(args); i++ {
		switch arg := args[i]; {
		case arg == name:
			if i+1 < len(args) {
				values = append(values, args[i+1])
			}
			i++
		case strings.HasPrefix(arg, name+"="):
			values = append(values, arg[len(name)+1:])
		default:
			rest = append(rest, arg)
		}
	}
	return values, rest
}

const (
	defaultEnvFile    = "/etc/default/corporate-intel-backup"
	defaultBackupRoot = "/var/backups/postgres"
)

// archiveDirFrom: --archive-dir, else $BACKUP_ROOT/wal-archive (only BACKUP_ROOT is read).
func archiveDirFrom(explicit string, lookupEnv func(string) (string, bool)) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	root, ok := lookupEnv("BACKUP_ROOT")
	if !ok {
		file, given := lookupEnv("LIFEBOAT_ENV_FILE")
		if !given {
			file = defaultEnvFile
		}
		root, ok = envFileValue(file, "BACKUP_ROOT")
	}
	if !ok {
		root = defaultBackupRoot
	}
	if !strings.HasPrefix(root, "/") {
		return "", inputInvalid("BACKUP_ROOT", `must be an absolute path (got "`+root+`")`, "set BACKUP_ROOT to an absolute directory path, e.g. /var/backups/postgres")
	}
	return filepath.Join(root, "wal-archive"), nil
}

var envLine = regexp.MustCompile(`^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)

// envFileValue reads key from an env file the way lib/config/load.ts parseEnvFile does (the last
// `[export ]KEY=value` line wins; quotes removed; an unquoted value ends at ` #`).
func envFileValue(file, key string) (string, bool) {
	f, err := os.Open(file)
	if err != nil {
		return "", false
	}
	defer f.Close()
	value, found := "", false
	lines := bufio.NewScanner(f)
	lines.Buffer(make([]byte, 64*1024), 1<<20)
	for lines.Scan() {
		line := strings.TrimSpace(lines.Text())
		if m := envLine.FindStringSubmatch(line); m != nil && m[1] == key {
			value, found = unquote(m[2]), true
		}
	}
	return value, found
}

func unquote(rest string) string {
	value := strings.TrimSpace(rest)
	if len(value) >= 2 && (value[0] == '"' && value[len(value)-1] == '"' || value[0] == '\'' && value[len(value)-1] == '\'') {
		return value[1 : len(value)-1]
	}
	// Unquoted: a trailing comment starts at ` #`.
	for i := 1; i < len(value); i++ {
		if value[i] == '#' && strings.ContainsRune(" \t\n\r\f\v", rune(value[i-1])) {
			return strings.TrimSpace(value[:i-1])
		}
	}
	return value
}
