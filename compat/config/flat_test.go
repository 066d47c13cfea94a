package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseArgsForms(t *testing.T) {
	const email = "ops@example.com"
	for _, tc := range []struct {
		desc  string
		args  []string
		email string
		tls   bool
		warn  string
		err   string
	}{
		{desc: "double dash with =", args: []string{"--certificatesresolvers.le.acme.email=" + email, "--certificatesresolvers.le.acme.tlschallenge"}, email: email, tls: true},
		{desc: "single dash with =", args: []string{"-certificatesresolvers.le.acme.email=" + email, "-certificatesresolvers.le.acme.tlschallenge=true"}, email: email, tls: true},
		// Traefik reads an option below a resolver given without '=' as
		// a switch: email=true, and the value is a stray argument that
		// ends the flags (so tlschallenge after it is never read).
		{desc: "no value as next argument", args: []string{"--certificatesresolvers.le.acme.tlschallenge", "--certificatesresolvers.le.acme.email", email, "--certificatesresolvers.le.acme.httpchallenge.entrypoint=web"}, email: "true", tls: true, warn: `--certificatesresolvers.le.acme.email has no '=': Traefik reads it as --certificatesresolvers.le.acme.email=true, and the next argument, "ops@example.com", is not its value`},
		{desc: "no value as next argument: the stray argument ends the flags", args: []string{"--certificatesresolvers.le.acme.tlschallenge", "--certificatesresolvers.le.acme.email", email, "--certificatesresolvers.le.acme.httpchallenge.entrypoint=web"}, email: "true", tls: true, warn: `argument "ops@example.com" is not a flag: Traefik stops reading flags there`},
		{desc: "no value before another flag", args: []string{"--certificatesresolvers.le.acme.email", "-odd-", "--certificatesresolvers.le.acme.tlschallenge"}, email: "true", tls: true, warn: "odd-: -odd- is not a Traefik static option"},
		{desc: "no value at the end", args: []string{"--certificatesresolvers.le.acme.tlschallenge", "--certificatesresolvers.le.acme.email"}, email: "true", tls: true, warn: "Traefik reads it as --certificatesresolvers.le.acme.email=true, and nothing is not its value"},
		{desc: "bool flag does not take the next argument", args: []string{"--certificatesresolvers.le.acme.tlschallenge", "--certificatesresolvers.le.acme.email=" + email}, email: email, tls: true},
		{desc: "leading program name", args: []string{"traefik", "--certificatesresolvers.le.acme.email=" + email, "--certificatesresolvers.le.acme.tlschallenge"}, email: email, tls: true},
		{desc: "leading program path", args: []string{"/usr/local/bin/traefik", "--certificatesresolvers.le.acme.email=" + email, "--certificatesresolvers.le.acme.tlschallenge"}, email: email, tls: true},
		{desc: "double dash ends the flags", args: []string{"--certificatesresolvers.le.acme.tlschallenge", "--", "--certificatesresolvers.le.acme.email=" + email}, tls: true},
		{desc: "a non-flag argument ends the flags", args: []string{"--certificatesresolvers.le.acme.tlschallenge", "version", "--certificatesresolvers.le.acme.email=" + email}, tls: true, warn: `argument "version" is not a flag`},
		{desc: "value keeps its quotes", args: []string{`--certificatesresolvers.le.acme.email="` + email + `"`, "--certificatesresolvers.le.acme.tlschallenge"}, email: `"` + email + `"`, tls: true, warn: "wrapped in quotes"},
		{desc: "value may contain =", args: []string{"--certificatesresolvers.le.acme.email=a=b", "--certificatesresolvers.le.acme.tlschallenge"}, email: "a=b", tls: true},
		{desc: "last value wins", args: []string{"--certificatesresolvers.le.acme.email=first", "--certificatesresolvers.le.acme.email=" + email, "--certificatesresolvers.le.acme.tlschallenge"}, email: email, tls: true},
		{desc: "unknown flags of other sections are skipped with their values", args: []string{"--log.level", "DEBUG", "--api.insecure", "--certificatesresolvers.le.acme.email=" + email, "--providers.docker", "--certificatesresolvers.le.acme.tlschallenge"}, email: email, tls: true},
		{desc: "configFile warns", args: []string{"--configFile=/etc/traefik/traefik.yml", "--certificatesresolvers.le.acme.tlschallenge"}, tls: true, warn: "--configFile=/etc/traefik/traefik.yml: Traefik reads its static configuration from that file"},
		{desc: "missing value", args: []string{"--certificatesresolvers.le.acme.tlschallenge", "--certificatesresolvers.le"}, err: "flag needs an argument: -certificatesresolvers.le"},
		{desc: "bad syntax", args: []string{"--=x"}, err: "bad flag syntax: --"},
		{desc: "three dashes", args: []string{"---x=1"}, err: "bad flag syntax: ---x"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			s, w, err := ParseArgs(tc.args)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || s != nil {
					t.Fatalf("got %v, %v; want error containing %q", s, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			a := acmeOf(t, s, "le")
			if a.Email != tc.email || (a.TLSChallenge != nil) != tc.tls {
				t.Errorf("email %q tls %v, want %q %v", a.Email, a.TLSChallenge != nil, tc.email, tc.tls)
			}
			if tc.warn != "" && !hasWarning(w, tc.warn) {
				t.Errorf("warnings %v, want one containing %q", w, tc.warn)
			}
			if tc.warn == "" && len(w) > 0 {
				t.Errorf("unexpected warnings %v", w)
			}
		})
	}
}

// TestParseArgsSpaceValueOutsideAcme covers the other options Traefik
// reads as switches without '=' (entry points), and the list options,
// where Traefik picks at random between the two readings.
func TestParseArgsSpaceValue(t *testing.T) {
	s, w, err := ParseArgs([]string{"--entrypoints.web.address", ":80", "--certificatesresolvers.le.acme.httpchallenge.entrypoint=web"})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.EntryPoints["web"].Address; got != "true" {
		t.Errorf("address %q, want %q as in Traefik", got, "true")
	}
	if len(s.CertificatesResolvers) != 0 {
		t.Errorf("resolvers %v: the flags after the stray \":80\" must be ignored, as in Traefik", keys(s.CertificatesResolvers))
	}
	if !hasWarning(w, "--entrypoints.web.address has no '='") {
		t.Errorf("warnings %v", w)
	}

	s, w, err = ParseArgs([]string{"--certificatesresolvers.le.acme.dnschallenge.provider=cloudflare", "--certificatesresolvers.le.acme.dnschallenge.resolvers", "1.1.1.1:53"})
	if err != nil {
		t.Fatal(err)
	}
	if got := acmeOf(t, s, "le").DNSChallenge.Resolvers; !reflect.DeepEqual(got, []string{"1.1.1.1:53"}) {
		t.Errorf("resolvers %q", got)
	}
	if !hasWarning(w, "depending on the order of a Go map") {
		t.Errorf("warnings %v", w)
	}
}

func TestReadAsSwitch(t *testing.T) {
	for name, want := range map[string]bool{
		"certificatesresolvers.le.acme.email":                  true,
		"certificatesResolvers.LE.Acme.dnsChallenge.provider":  true,
		"certificatesresolvers.le.acme.dnschallenge.resolvers": true,
		"certificatesresolvers.le.acme":                        false, // a pointer itself
		"certificatesresolvers.le":                             false,
		"certificatesresolvers.le.email":                       false, // no acme: no pattern matches
		"entrypoints.web.address":                              true,
		"entrypoints.web":                                      false,
		"log.level":                                            false,
	} {
		if got := readAsSwitch(name); got != want {
			t.Errorf("readAsSwitch(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestKindOf(t *testing.T) {
	for name, want := range map[string]flagKind{
		"certificatesresolvers.le.acme":                                        kindPtr,
		"certificatesResolvers.LE.acme.tlsChallenge":                           kindPtr,
		"certificatesresolvers.le.acme.eab":                                    kindPtr,
		"certificatesresolvers.le.acme.casystemcertpool":                       kindBool,
		"certificatesresolvers.le.acme.dnschallenge.resolvers":                 kindSlice,
		"certificatesresolvers.le.acme.cacertificates":                         kindSlice,
		"certificatesresolvers.le.acme.email":                                  kindValue,
		"certificatesresolvers.le.acme.dnschallenge.delaybeforecheck":          kindValue,
		"certificatesresolvers.le.acme.dnschallenge.propagation":               kindPtr,
		"certificatesresolvers.le.acme.dnschallenge.propagation.disablechecks": kindBool,
		"certificatesresolvers.le":                                             kindValue, // map[string]CertificateResolver in Traefik
		"entrypoints.web":                                                      kindPtr,
		"entrypoints.web.address":                                              kindValue,
		"entrypoints.web.http.tls":                                             kindUnknown,
		"certificatesresolvers.le.acme.emial":                                  kindUnknown,
		"log.level":                                                            kindUnknown,
		"certificatesresolvers.le.acme.orderratelimit":                         kindUnknown, // traefik:"-"
	} {
		if got := kindOf(name); got != want {
			t.Errorf("kindOf(%q) = %d, want %d", name, got, want)
		}
	}
}

func TestParseEnvRules(t *testing.T) {
	for _, tc := range []struct {
		desc    string
		environ []string
		names   []string
		warn    string
		err     string
	}{
		{desc: "upper-case prefix and section", environ: []string{"TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_TLSCHALLENGE=true"}, names: []string{"le"}},
		{desc: "names are lower-cased", environ: []string{"TRAEFIK_CERTIFICATESRESOLVERS_LEPROD_ACME_TLSCHALLENGE=true"}, names: []string{"leprod"}},
		{desc: "rest of the name may be mixed case", environ: []string{"TRAEFIK_CERTIFICATESRESOLVERS_Le_Acme_TlsChallenge=true"}, names: []string{"le"}},
		{desc: "lower-case variables are not read", environ: []string{"traefik_certificatesresolvers_le_acme_tlschallenge=true", "TRAEFIK_CERTIFICATESRESOLVERS_OTHER_ACME_TLSCHALLENGE=true"}, names: []string{"other"}, warn: "traefik_certificatesresolvers_le_acme_tlschallenge: ignored: Traefik only reads variables spelled TRAEFIK_<SECTION>"},
		{desc: "v1 variables", environ: []string{"TRAEFIK_ACME_EMAIL=a", "TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_TLSCHALLENGE=true"}, names: []string{"le"}, warn: "TRAEFIK_ACME_EMAIL: Traefik v1-style variable"},
		{desc: "other variables are skipped", environ: []string{"PATH=/bin", "NOEQUALS", "TRAEFIKX=1", "TRAEFIK_LOG_LEVEL=DEBUG", "CF_DNS_API_TOKEN=secret", "TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_TLSCHALLENGE=true"}, names: []string{"le"}},
		{desc: "later duplicates win", environ: []string{"TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_TLSCHALLENGE=true", "TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_TLSCHALLENGE=false", "TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_HTTPCHALLENGE_ENTRYPOINT=web"}, names: []string{"le"}},
		{desc: "underscore in a name", environ: []string{"TRAEFIK_CERTIFICATESRESOLVERS_MY_RESOLVER_ACME_EMAIL=a"}, err: "Resolver names from TRAEFIK_* env vars are lower-cased and cannot contain '_' (each '_' starts a new level), so a name such as my_resolver must be renamed (for example myresolver)"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			s, w, err := ParseEnv(tc.environ)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || s != nil {
					t.Fatalf("got %v; want error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := keys(s.CertificatesResolvers); !reflect.DeepEqual(got, tc.names) {
				t.Errorf("resolvers %v, want %v", got, tc.names)
			}
			if tc.warn != "" && !hasWarning(w, tc.warn) {
				t.Errorf("warnings %v, want one containing %q", w, tc.warn)
			}
			if tc.warn == "" && len(w) > 0 {
				t.Errorf("unexpected warnings %v", w)
			}
			if tc.desc == "later duplicates win" && acmeOf(t, s, "le").TLSChallenge != nil {
				t.Errorf("tlsChallenge should be disabled by the later false")
			}
		})
	}
	if !hasEnvConfig([]string{"TRAEFIK_LOG_LEVEL=DEBUG"}) || hasEnvConfig([]string{"traefik_log_level=DEBUG", "TRAEFIK_NOPE=1"}) {
		t.Error("hasEnvConfig does not follow paerser's FindPrefixedEnvVars")
	}
}

// TestParseArgsSpaceValueNeverShowsASecret: a secret option given without
// '=' is read as Traefik does, and its intended value, now a stray
// argument, is not shown in any warning.
func TestParseArgsSpaceValueNeverShowsASecret(t *testing.T) {
	const secret = "c2VjcmV0LWhtYWM"
	_, w, err := ParseArgs([]string{"--certificatesresolvers.le.acme.tlschallenge", "--certificatesresolvers.le.acme.eab.kid=k", "--certificatesresolvers.le.acme.eab.hmacencoded", secret})
	if err != nil {
		t.Fatal(err)
	}
	if len(w) != 2 {
		t.Errorf("warnings %v, want one for the flag and one for the stray argument", w)
	}
	for _, x := range w {
		if strings.Contains(x.String(), secret) {
			t.Errorf("warning shows the secret: %s", x)
		}
	}
	if !hasWarning(w, "argument (redacted) is not a flag") {
		t.Errorf("warnings %v", w)
	}
	for name, want := range map[string]bool{
		"certificatesresolvers.le.acme.eab.hmacencoded": true,
		"certificatesResolvers.X.ACME.EAB.HMACEncoded":  true,
		"certificatesresolvers.le.acme.eab.kid":         false,
		"certificatesresolvers.le.acme.email":           false,
		"certificatesresolvers.le":                      false,
		"entrypoints.web.address":                       false,
		"log.level":                                     false,
	} {
		if got := isSecretOption(name); got != want {
			t.Errorf("isSecretOption(%q) = %v, want %v", name, got, want)
		}
	}
}
