// Package cluster tests several Caddy processes with the traefik_acme
// plugin sharing one certificate storage: Redis
// (github.com/pberkel/caddy-storage-redis, with Debian's redis-server) and
// certmagic's file_system storage on one shared directory. The test builds
// the Caddy in ./caddy, runs three of it on distinct loopback ports against
// the in-process test CA, and checks that every name is ordered once, served
// by every instance, mirrored into the shared acme.json, and that killing an
// instance mid-issuance loses nothing. See cluster_test.go. It is part of
// the suite (`go test -race ./...`): it needs Linux and redis-server on the
// PATH (which .ci/run installs); without them it is skipped with the reason.
package cluster
