package dnsbridge

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ac075510/caddy-traefik-acme/internal/dnsfakes"
	"github.com/libdns/libdns"
)

// testChallenge is an ACME challenge and its DNS-01 TXT value.
var testChallenge = ChallengeInfo{Domain: "*.example.com", Token: "tok-123", KeyAuth: "tok-123.thumbprint"}

func txtRec(name, value string) []libdns.Record {
	return []libdns.Record{libdns.TXT{Name: name, Text: value, TTL: time.Minute}}
}

func TestExec(t *testing.T) {
	t.Run("default mode runs present and cleanup with fqdn and value", func(t *testing.T) {
		script := dnsfakes.NewExecScript(t, 0)
		prov, tm, err := New("exec", Options{Lookup: mapLookup(map[string]string{
			"EXEC_PATH": script.Path, "EXEC_PROPAGATION_TIMEOUT": "90", "EXEC_SEQUENCE_INTERVAL": "0",
		})})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if tm.PropagationTimeout != 90*time.Second {
			t.Errorf("timing = %+v", tm)
		}
		ctx := t.Context()
		if _, err := prov.AppendRecords(ctx, "example.com.", txtRec("_acme-challenge.www", "val-1")); err != nil {
			t.Fatalf("AppendRecords: %v", err)
		}
		if _, err := prov.DeleteRecords(ctx, "example.com", txtRec("_acme-challenge.www", "val-1")); err != nil {
			t.Fatalf("DeleteRecords: %v", err)
		}
		want := [][]string{
			{"present", "_acme-challenge.www.example.com.", "val-1"},
			{"cleanup", "_acme-challenge.www.example.com.", "val-1"},
		}
		if got := script.Calls(t); !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("calls = %q, want %q", got, want)
		}
	})

	t.Run("failing program", func(t *testing.T) {
		script := dnsfakes.NewExecScript(t, 3)
		prov, _, err := New("exec", Options{Lookup: mapLookup(map[string]string{"EXEC_PATH": script.Path})})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		_, err = prov.AppendRecords(t.Context(), "example.com.", txtRec("_acme-challenge", "v"))
		for _, w := range []string{"exec: running", "exit status 3", "exec failed"} {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("error %v lacks %q", err, w)
			}
		}
	})

	t.Run("non-TXT records are refused", func(t *testing.T) {
		script := dnsfakes.NewExecScript(t, 0)
		prov, _, _ := New("exec", Options{Lookup: mapLookup(map[string]string{"EXEC_PATH": script.Path})})
		_, err := prov.AppendRecords(t.Context(), "example.com.", []libdns.Record{libdns.CNAME{Name: "x", Target: "y."}})
		if err == nil || !strings.Contains(err.Error(), "only TXT records") {
			t.Errorf("error = %v", err)
		}
		if len(script.Calls(t)) != 0 {
			t.Errorf("program ran for a CNAME")
		}
	})

	t.Run("bad mode", func(t *testing.T) {
		_, _, err := New("exec", Options{Lookup: mapLookup(map[string]string{"EXEC_PATH": "/bin/true", "EXEC_MODE": "raw"})})
		if err == nil || !strings.Contains(err.Error(), "exec: EXEC_MODE must be RAW or unset") {
			t.Errorf("error = %v", err)
		}
	})

	t.Run("RAW mode", func(t *testing.T) {
		script := dnsfakes.NewExecScript(t, 0)
		prov, _, err := New("exec", Options{Lookup: mapLookup(map[string]string{"EXEC_PATH": script.Path, "EXEC_MODE": "RAW", "EXEC_SEQUENCE_INTERVAL": "0"})})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		value := testChallenge.TXTValue()

		// Without the ACME data the provider refuses instead of guessing.
		_, err = prov.AppendRecords(t.Context(), "example.com.", txtRec("_acme-challenge", value))
		if err == nil || !strings.Contains(err.Error(), "WithChallengeInfo") || !strings.Contains(err.Error(), "exec: EXEC_MODE=RAW needs") {
			t.Fatalf("RAW without challenge info: error = %v", err)
		}
		// Challenge data that does not belong to the record is refused.
		_, err = prov.AppendRecords(WithChallengeInfo(t.Context(), testChallenge), "example.com.", txtRec("_acme-challenge", "other"))
		if err == nil || !strings.Contains(err.Error(), "does not match") {
			t.Fatalf("RAW with mismatching info: error = %v", err)
		}

		if _, err := prov.AppendRecords(WithChallengeInfo(t.Context(), testChallenge), "example.com.", txtRec("_acme-challenge", value)); err != nil {
			t.Fatalf("AppendRecords: %v", err)
		}
		// certmagic cleans up with a fresh context: the provider remembers.
		cleanupCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := prov.DeleteRecords(cleanupCtx, "example.com.", txtRec("_acme-challenge", value)); err != nil {
			t.Fatalf("DeleteRecords: %v", err)
		}
		want := [][]string{
			{"present", "--", "*.example.com", "tok-123", "tok-123.thumbprint"},
			{"cleanup", "--", "*.example.com", "tok-123", "tok-123.thumbprint"},
		}
		if got := script.Calls(t); !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("calls = %q, want %q", got, want)
		}
		// A second cleanup has nothing to remember any more.
		if _, err := prov.DeleteRecords(cleanupCtx, "example.com.", txtRec("_acme-challenge", value)); err == nil {
			t.Errorf("second RAW cleanup without info succeeded")
		}
	})

	t.Run("forwarder applies calls to a sink", func(t *testing.T) {
		sink := dnsfakes.NewMemorySink()
		fwd := dnsfakes.NewExecForwarder(t, sink)
		prov, _, err := New("exec", Options{Lookup: mapLookup(map[string]string{"EXEC_PATH": fwd.Path, "EXEC_SEQUENCE_INTERVAL": "0"})})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if _, err := prov.AppendRecords(t.Context(), "example.com.", txtRec("_acme-challenge", "fwd-value")); err != nil {
			t.Fatalf("AppendRecords: %v", err)
		}
		if got := sink.TXT("_acme-challenge.example.com."); !slices.Equal(got, []string{"fwd-value"}) {
			t.Errorf("sink = %v", got)
		}
		if _, err := prov.DeleteRecords(t.Context(), "example.com.", txtRec("_acme-challenge", "fwd-value")); err != nil {
			t.Fatalf("DeleteRecords: %v", err)
		}
		if got := sink.TXT("_acme-challenge.example.com."); len(got) != 0 {
			t.Errorf("sink after cleanup = %v", got)
		}
	})
}

func TestHTTPReq(t *testing.T) {
	const user, pass = "acme", "httpreq-pass-secret"

	t.Run("default mode with basic auth and a path prefix", func(t *testing.T) {
		sink := dnsfakes.NewMemorySink()
		srv := dnsfakes.NewHTTPReq(t, sink, user, pass)
		prov, tm, err := New("httpreq", Options{Lookup: mapLookup(map[string]string{
			"HTTPREQ_ENDPOINT": srv.URL + "/dns-hook", "HTTPREQ_USERNAME": user, "HTTPREQ_PASSWORD": pass,
			"HTTPREQ_POLLING_INTERVAL": "3",
		})})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if tm.PollingInterval != 3*time.Second {
			t.Errorf("timing = %+v", tm)
		}
		if _, err := prov.AppendRecords(t.Context(), "example.com.", txtRec("_acme-challenge.www", "v1")); err != nil {
			t.Fatalf("AppendRecords: %v", err)
		}
		if got := sink.TXT("_acme-challenge.www.example.com."); !slices.Equal(got, []string{"v1"}) {
			t.Errorf("sink = %v", got)
		}
		if _, err := prov.DeleteRecords(t.Context(), "example.com.", txtRec("_acme-challenge.www", "v1")); err != nil {
			t.Fatalf("DeleteRecords: %v", err)
		}
		want := []dnsfakes.HTTPReqRequest{
			{Action: "present", FQDN: "_acme-challenge.www.example.com.", Value: "v1"},
			{Action: "cleanup", FQDN: "_acme-challenge.www.example.com.", Value: "v1"},
		}
		if got := srv.Requests(); !slices.Equal(got, want) {
			t.Errorf("requests = %+v, want %+v", got, want)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		srv := dnsfakes.NewHTTPReq(t, nil, user, pass)
		prov, _, err := New("httpreq", Options{Lookup: mapLookup(map[string]string{
			"HTTPREQ_ENDPOINT": srv.URL, "HTTPREQ_USERNAME": user, "HTTPREQ_PASSWORD": "wrong-pass-secret",
		})})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		_, err = prov.AppendRecords(t.Context(), "example.com.", txtRec("_acme-challenge", "v"))
		if err == nil || !strings.Contains(err.Error(), "HTTP 401") {
			t.Fatalf("error = %v, want HTTP 401", err)
		}
		if strings.Contains(err.Error(), "wrong-pass-secret") {
			t.Errorf("error leaks the password")
		}
		if srv.Rejected() != 1 {
			t.Errorf("rejected = %d", srv.Rejected())
		}
	})

	t.Run("credentials in the endpoint URL are redacted in errors", func(t *testing.T) {
		for _, bad := range []string{"ftp://u:url-secret@host", "http://u:url-secret@host:port/%zz"} {
			_, _, err := New("httpreq", Options{Lookup: mapLookup(map[string]string{"HTTPREQ_ENDPOINT": bad})})
			if err == nil || strings.Contains(err.Error(), "url-secret") {
				t.Errorf("endpoint %q: error = %v", bad, err)
			}
		}
		prov, _, err := New("httpreq", Options{Lookup: mapLookup(map[string]string{"HTTPREQ_ENDPOINT": "http://u:url-secret@127.0.0.1:1"})})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		_, err = prov.AppendRecords(t.Context(), "example.com.", txtRec("_acme-challenge", "v"))
		if err == nil || strings.Contains(err.Error(), "url-secret") {
			t.Errorf("error = %v", err)
		}
	})

	t.Run("RAW mode", func(t *testing.T) {
		sink := dnsfakes.NewMemorySink()
		srv := dnsfakes.NewHTTPReq(t, sink, "", "")
		prov, _, err := New("httpreq", Options{Lookup: mapLookup(map[string]string{"HTTPREQ_ENDPOINT": srv.URL, "HTTPREQ_MODE": "RAW"})})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		value := testChallenge.TXTValue()
		if _, err := prov.AppendRecords(t.Context(), "example.com.", txtRec("_acme-challenge", value)); err == nil ||
			!strings.Contains(err.Error(), "httpreq: HTTPREQ_MODE=RAW needs") {
			t.Fatalf("RAW without challenge info: error = %v", err)
		}
		if _, err := prov.AppendRecords(WithChallengeInfo(t.Context(), testChallenge), "example.com.", txtRec("_acme-challenge", value)); err != nil {
			t.Fatalf("AppendRecords: %v", err)
		}
		if got := sink.TXT("_acme-challenge.example.com."); !slices.Equal(got, []string{value}) {
			t.Errorf("sink = %v, want [%s]", got, value)
		}
		if _, err := prov.DeleteRecords(context.Background(), "example.com.", txtRec("_acme-challenge", value)); err != nil {
			t.Fatalf("DeleteRecords: %v", err)
		}
		reqs := srv.Requests()
		if len(reqs) != 2 || !reqs[0].Raw || reqs[0].Domain != "*.example.com" || reqs[0].Token != "tok-123" ||
			reqs[0].KeyAuth != "tok-123.thumbprint" || reqs[1].Action != "cleanup" {
			t.Errorf("requests = %+v", reqs)
		}
	})
}
