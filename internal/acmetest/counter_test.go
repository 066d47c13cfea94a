package acmetest

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// jwsWithPayload returns a flattened-JSON JWS body carrying payload.
func jwsWithPayload(t testing.TB, payload string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]string{
		"protected": base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256"}`)),
		"payload":   base64.RawURLEncoding.EncodeToString([]byte(payload)),
		"signature": "c2ln",
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOrderIdentifiers(t *testing.T) {
	payload := `{"identifiers":[{"type":"dns","value":"A.Example.Test."},{"type":"dns","value":"*.b.example.test"},{"type":"ip","value":"127.0.0.1"}]}`
	want := []string{"a.example.test", "*.b.example.test", "127.0.0.1"}
	compact := "eyJhbGciOiJFUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".c2ln"

	tests := []struct {
		name    string
		body    []byte
		want    []string
		wantErr bool
	}{
		{name: "flattened json", body: jwsWithPayload(t, payload), want: want},
		{name: "compact", body: []byte(compact), want: want},
		{name: "padded payload", body: []byte(strings.Replace(string(jwsWithPayload(t, `{"identifiers":[]}`)), `","signature`, `==","signature`, 1)), want: []string{}},
		{name: "no identifiers", body: jwsWithPayload(t, `{}`), want: []string{}},
		{name: "not json", body: []byte("{nope"), wantErr: true},
		{name: "bad base64", body: []byte(`{"payload":"***"}`), wantErr: true},
		{name: "payload not json", body: jwsWithPayload(t, "plain"), wantErr: true},
		{name: "compact with two parts", body: []byte("a.b"), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := orderIdentifiers(tc.body)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %t", err, tc.wantErr)
			}
			if !tc.wantErr && !slices.Equal(got, tc.want) {
				t.Errorf("identifiers = %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzOrderIdentifiers checks that parsing arbitrary request bodies never
// panics and that returned names are normalised.
func FuzzOrderIdentifiers(f *testing.F) {
	f.Add(jwsWithPayload(f, `{"identifiers":[{"type":"dns","value":"a.example.test"}]}`))
	f.Add([]byte("eyJhIjoxfQ.eyJpZGVudGlmaWVycyI6W119.c2ln"))
	f.Add([]byte(`{"payload":""}`))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, body []byte) {
		names, err := orderIdentifiers(body)
		if err != nil {
			return
		}
		for _, n := range names {
			if n != normalizeIdentifier(n) {
				t.Errorf("name %q is not normalised", n)
			}
		}
	})
}

func TestApexOf(t *testing.T) {
	tests := []struct{ name, want string }{
		{name: ".", want: ""},
		{name: "test.", want: "test."},
		{name: "example.test.", want: "example.test."},
		{name: "a.example.test.", want: "example.test."},
		{name: "_acme-challenge.a.b.example.test.", want: "example.test."},
	}
	for _, tc := range tests {
		if got := apexOf(tc.name); got != tc.want {
			t.Errorf("apexOf(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
