package acmejson

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// benchFile writes a 5,000-certificate file built from the fixtures' real
// certificates and keys (RSA-4096, RSA-2048, P-256, P-384 in PKCS#8,
// PKCS#1 and SEC1) and returns its path and content.
func benchFile(b *testing.B) (string, File) {
	b.Helper()
	f := largeFile(b, 5000)
	p := filepath.Join(b.TempDir(), "acme.json")
	if err := Save(p, f); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	return p, f
}

func BenchmarkLoad5000(b *testing.B) {
	p, _ := benchFile(b)
	b.ReportAllocs()
	for b.Loop() {
		f, err := Load(p)
		if err != nil || len(f["bulk"].Certificates) != 5000 {
			b.Fatal(err)
		}
	}
}

func BenchmarkSave5000(b *testing.B) {
	p, f := benchFile(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := Save(p, f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeStdlib5000 is the encoding/json baseline for Load's decoder.
func BenchmarkDecodeStdlib5000(b *testing.B) {
	p, _ := benchFile(b)
	data, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var f File
		if err := json.Unmarshal(data, &f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMarshalStdlib5000 is the encoding/json baseline for Save's
// encoder.
func BenchmarkMarshalStdlib5000(b *testing.B) {
	_, f := benchFile(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.MarshalIndent(f, "", "  "); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshal5000(b *testing.B) {
	_, f := benchFile(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}
