package acmetest

// TB is the part of testing.TB that Start and StartDNS use. Programs
// outside `go test` use New and NewDNS instead.
type TB interface {
	Helper()
	Cleanup(func())
	Failed() bool
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	TempDir() string
}
