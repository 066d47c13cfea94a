package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ac075510/caddy-traefik-acme/bench"
)

func TestCheckFlags(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "traefik")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	notExe := filepath.Join(dir, "traefik.txt")
	if err := os.WriteFile(notExe, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc string
		f    flags
		err  string
	}{
		{"defaults", flags{rounds: 1}, ""},
		{"traefik binary", flags{rounds: 3, traefik: exe, only: "start"}, ""},
		{"no rounds", flags{rounds: 0}, "-rounds"},
		{"missing binary", flags{rounds: 1, traefik: filepath.Join(dir, "nope")}, "-traefik"},
		{"not executable", flags{rounds: 1, traefik: notExe}, "not an executable"},
		{"directory", flags{rounds: 1, traefik: dir}, "not an executable"},
		{"traefik scenario without binary", flags{rounds: 1, only: "start-traefik"}, "needs -traefik"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			err := checkFlags(tt.f)
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("checkFlags = %v, want %q", err, tt.err)
			}
		})
	}
}

func TestSelected(t *testing.T) {
	tests := []struct {
		id, only, traefik string
		want              bool
	}{
		{"start-first", "", "", true},
		{"start-traefik", "", "", false},
		{"start-traefik", "", "/bin/traefik", true},
		{"start-traefik", "start", "/bin/traefik", true},
		{"start-traefik", "start-first", "/bin/traefik", false},
		{"obtain-ec256", "start", "", false},
		{"mirror", "start,mirror", "", true},
	}
	for _, tt := range tests {
		if got := selected(tt.id, tt.only, tt.traefik); got != tt.want {
			t.Errorf("selected(%q, %q, %q) = %v", tt.id, tt.only, tt.traefik, got)
		}
	}
}

func TestMedianAndComparison(t *testing.T) {
	if got := median([]time.Duration{3, 1, 2}); got != 2 {
		t.Errorf("median = %v", got)
	}
	if got := median([]int64{4, 1, 3, 2}); got != 2 {
		t.Errorf("median of four = %v", got)
	}
	run := func(s float64, peak int64) childResult {
		d := time.Duration(s * float64(time.Second))
		return childResult{Start: &bench.StartResult{FirstHandshake: d, FirstNameServed: d / 2, LastNameServed: d * 2, AllServed: d * 3}, Memory: bench.Memory{PeakRSS: peak}}
	}
	results := map[string][]childResult{
		"start-first":  {run(2, 300<<20), run(4, 310<<20), run(3, 290<<20)},
		"start-second": {run(3, 300<<20), run(3, 300<<20), run(3, 300<<20)},
		"start-plain":  {run(2, 250<<20)},
	}
	var out bytes.Buffer
	writeStartComparison(&out, results)
	text := out.String()
	for _, want := range []string{
		"| | plugin, first start | plugin, later start | plain Caddy on the imported storage |",
		"| first good handshake, middle name | 3.00 s | 3.00 s | 2.00 s |",
		"| peak RSS | 300 MiB | 300 MiB | 250 MiB |",
		"first start / later start 1.00×",
		"later start / plain Caddy 1.50×",
		"first start / Traefik n/a",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("comparison lacks %q:\n%s", want, text)
		}
	}
}
