module lifeboat/wal-archive

go 1.21
