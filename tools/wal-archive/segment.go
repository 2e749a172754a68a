// What a WAL file must look like before it is archived: a port of lib/wal/segment.ts, message for
// message (pure; no I/O). A segment starts with PostgreSQL's XLogLongPageHeaderData
// (src/include/access/xlog_internal.h), little-endian here:
//
//	offset  0  uint16 xlp_magic        WAL format version (XLOG_PAGE_MAGIC)
//	offset  2  uint16 xlp_info         XLP_LONG_HEADER (0x0002) on the first page of a segment
//	offset  4  uint32 xlp_tli          timeline of the first record on the page
//	offset  8  uint64 xlp_pageaddr     WAL address of the page = the segment's start LSN
//	offset 24  uint64 xlp_sysid        system identifier
//	offset 32  uint32 xlp_seg_size     wal_segment_size of the cluster that wrote it
//	offset 36  uint32 xlp_xlog_blcksz  WAL page size
//
// The archive_command does not know the server's wal_segment_size, so the segment's own header
// says it; the file must be exactly that long. `.history` and `.backup` files are short text files.
// A change to the rules belongs in both implementations: the contract tests
// (test/integration/wal.test.ts) run against both.
package main

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// walFilePattern is lib/catalog/names.ts WAL_FILE_PATTERN: a segment (optionally .partial), a
// backup history file or a timeline history file.
var walFilePattern = regexp.MustCompile(`^([0-9A-F]{24}(\.partial|\.[0-9A-F]{8}\.backup)?|[0-9A-F]{8}\.history)$`)

// walPageMagic is XLOG_PAGE_MAGIC by PostgreSQL major version (from each release's xlog_internal.h),
// in version order for the message.
var walPageMagic = []struct {
	version int
	magic   uint16
}{{13, 0xd106}, {14, 0xd10d}, {15, 0xd110}, {16, 0xd113}, {17, 0xd116}, {18, 0xd118}}

const (
	xlpLongHeader       = 0x0002
	walLongHeaderBytes  = 40      // bytes of the long page header the checks read
	walTextFileMaxBytes = 1 << 20 // largest .history / .backup file accepted
	minSegment          = 1 << 20
	maxSegment          = 1 << 30
)

// walFileKind is the kind of WAL file a (valid) name denotes.
func walFileKind(name string) string {
	switch {
	case strings.HasSuffix(name, ".history"):
		return "history"
	case strings.HasSuffix(name, ".backup"):
		return "backup"
	case strings.HasSuffix(name, ".partial"):
		return "partial"
	}
	return "segment"
}

func isPowerOfTwo(n uint32) bool { return n > 0 && n&(n-1) == 0 }

// hexWidth is `0x` and upper-case hex digits, padded to width (segment.ts `hex`).
func hexWidth(n uint64, width int) string { return fmt.Sprintf("0x%0*X", width, n) }

// lsn is `X/Y`, PostgreSQL's notation for a WAL address.
func lsn(v uint64) string { return fmt.Sprintf("%X/%X", v>>32, v&0xffffffff) }

func parseHex(s string) uint64 {
	v, _ := strconv.ParseUint(s, 16, 64) // the name matched walFilePattern: always hex
	return v
}

// walSegmentProblem says why header (the first bytes of the file, 40 needed) and fileSize are not
// the WAL segment name (24 hex digits, optionally .partial); "" when they are.
func walSegmentProblem(name string, header []byte, fileSize int64) string {
	if fileSize < walLongHeaderBytes || len(header) < walLongHeaderBytes {
		return fmt.Sprintf("is %d bytes, too short to be a WAL segment", fileSize)
	}
	le := binary.LittleEndian
	magic, info := le.Uint16(header[0:]), le.Uint16(header[2:])
	timeline, pageAddress := le.Uint32(header[4:]), le.Uint64(header[8:])
	segmentSize, blockSize := le.Uint32(header[32:]), le.Uint32(header[36:])

	if magic < 0xd000 || magic > 0xd1ff {
		return fmt.Sprintf("does not start with a WAL page header (first bytes %s; a segment starts with the page magic, e.g. 10d1 for PostgreSQL 15)", hex.EncodeToString(header[:4]))
	}
	known := false
	versions := make([]string, 0, len(walPageMagic))
	for _, m := range walPageMagic {
		known = known || m.magic == magic
		versions = append(versions, strconv.Itoa(m.version))
	}
	if !known {
		return fmt.Sprintf("has WAL page magic %s, which is not one of PostgreSQL %s", hexWidth(uint64(magic), 4), strings.Join(versions, ", "))
	}
	if info&xlpLongHeader == 0 {
		return fmt.Sprintf("first page has no long header (xlp_info %s): not the start of a WAL segment", hexWidth(uint64(info), 4))
	}
	if !isPowerOfTwo(segmentSize) || segmentSize < minSegment || segmentSize > maxSegment {
		return fmt.Sprintf("header gives a segment size of %d bytes (must be a power of two from 1 MiB to 1 GiB)", segmentSize)
	}
	if !isPowerOfTwo(blockSize) || blockSize < 1024 || blockSize > 65536 {
		return fmt.Sprintf("header gives a WAL page size of %d bytes (must be a power of two from 1 KiB to 64 KiB)", blockSize)
	}
	if fileSize != int64(segmentSize) {
		return fmt.Sprintf("is %d bytes, but its header gives wal_segment_size %d: truncated or not a WAL segment", fileSize, segmentSize)
	}
	nameTimeline := parseHex(name[0:8])
	// The first segment of a new timeline is a copy of the old timeline's segment up to the switch,
	// so its first page may carry an older timeline; never a newer one.
	if timeline == 0 || uint64(timeline) > nameTimeline {
		return fmt.Sprintf("header is of timeline %d, the name of timeline %d", timeline, nameTimeline)
	}
	log, seg := parseHex(name[8:16]), parseHex(name[16:24])
	perLog := (uint64(1) << 32) / uint64(segmentSize)
	if seg >= perLog {
		return fmt.Sprintf("names segment %s of log %s, but a log has only %d segments of %d bytes", hexWidth(seg, 8), hexWidth(log, 8), perLog, segmentSize)
	}
	expected := (log*perLog + seg) * uint64(segmentSize) // < 2^64: log < 2^32 and perLog*segmentSize = 2^32
	if pageAddress != expected {
		return fmt.Sprintf("header is of WAL address %s, the name of %s: the file belongs to another segment", lsn(pageAddress), lsn(expected))
	}
	return ""
}

// walTextFileProblem says why content (the file's first bytes, up to walTextFileMaxBytes) is not a
// timeline history or backup history file; "" when it may be.
func walTextFileProblem(name string, content []byte, fileSize int64) string {
	kind := walFileKind(name)
	if fileSize > walTextFileMaxBytes {
		return fmt.Sprintf("is %d bytes: a %s file is a few lines of text", fileSize, kind)
	}
	if bytes.IndexByte(content, 0) >= 0 {
		return fmt.Sprintf("contains NUL bytes: a %s file is text", kind)
	}
	if kind == "backup" && !bytes.HasPrefix(content, []byte("START WAL LOCATION:")) {
		return `does not start with "START WAL LOCATION:" like a backup history file`
	}
	return ""
}
