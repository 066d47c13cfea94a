//go:build race

package cluster

// raceEnabled reports whether this test binary runs under the race
// detector; the instances' Caddy is then built with -race too.
const raceEnabled = true
