// Disk-full errors that say where and how much (a port of lib/disk-full.ts): ENOSPC or EDQUOT
// becomes a message naming the file and the space left on its file system.
package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
)

// diskFullOr turns an ENOSPC/EDQUOT in err into the disk-full failure for path (written by
// syscall op); any other error is returned as it is.
func diskFullOr(err error, path, op string) error {
	var what string
	switch {
	case errors.Is(err, syscall.ENOSPC):
		what = "no space left on device"
	case errors.Is(err, syscall.EDQUOT):
		what = "disk quota exceeded"
	default:
		return err
	}
	free := "free space unknown"
	if space, total, at, ok := freeSpace(path); ok {
		free = fmt.Sprintf("%s free of %s on the file system of %s", binaryUnits(space), binaryUnits(total), at)
	}
	return &failure{
		message: fmt.Sprintf("%s writing %s (%s): %s", what, path, op, free),
		hint:    "free space on that file system (lifeboat prune, remove old files) or move the directory to a larger disk; the step is retried",
	}
}

// freeSpace: free and total bytes of the file system holding path (its nearest existing ancestor).
func freeSpace(path string) (free, total uint64, at string, ok bool) {
	for at = path; ; at = filepath.Dir(at) {
		var fs syscall.Statfs_t
		if syscall.Statfs(at, &fs) == nil {
			return fs.Bavail * uint64(fs.Bsize), fs.Blocks * uint64(fs.Bsize), at, true
		}
		if filepath.Dir(at) == at {
			return 0, 0, "", false
		}
	}
}

func binaryUnits(bytes uint64) string {
	units := []string{"bytes", "KiB", "MiB", "GiB", "TiB"}
	value, unit := float64(bytes), 0
	for value >= 1024 && unit < len(units)-1 {
		value /= 1024
		unit++
	}
	if unit == 0 {
		return fmt.Sprintf("%d bytes", bytes)
	}
	return fmt.Sprintf("%.1f %s", value, units[unit])
}
