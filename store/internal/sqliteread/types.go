package sqliteread

// Column types, as SQLite numbers them (Rows.Type).
const (
	Integer = 1
	Float   = 2
	Text    = 3
	Blob    = 4
	Null    = 5
)
