package acmetest

// TB is the part of testing.TB the harness uses. Tests pass their
// *testing.T; a program such as the offline demo passes its own
// implementation, which lets it run the CA outside `go test`.
type TB interface {
	Helper()
	Cleanup(func())
	Failed() bool
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	TempDir() string
}
