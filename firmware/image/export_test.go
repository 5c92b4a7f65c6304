package image

// SetLimit lowers the size limit for a test and returns what restores it.
func SetLimit(n int) (restore func()) {
	old := limit
	limit = n
	return func() { limit = old }
}
