package dnsbridge

// gcloud: libdns/googleclouddns v1.2.0. lego: providers/dns/gcloud.

import (
	"encoding/json"
	"os"

	"github.com/libdns/googleclouddns"
)

const (
	gcloudNS                = "GCE_"
	gcloudEnvProject        = gcloudNS + "PROJECT"
	gcloudEnvServiceAccount = gcloudNS + "SERVICE_ACCOUNT"
	gcloudEnvSAFile         = gcloudEnvServiceAccount + "_FILE"
	gcloudEnvZoneID         = gcloudNS + "ZONE_ID"
	gcloudEnvAllowPrivate   = gcloudNS + "ALLOW_PRIVATE_ZONE"
	gcloudEnvImpersonate    = gcloudNS + "IMPERSONATE_SERVICE_ACCOUNT"
)

func init() {
	ns := []string{gcloudNS}
	register(Spec{
		Code:       "gcloud",
		Namespaces: ns,
		Required:   [][]string{{gcloudEnvProject, gcloudEnvSAFile}},
		Optional: append([]string{gcloudEnvServiceAccount, gcloudEnvZoneID, gcloudEnvAllowPrivate, gcloudEnvImpersonate},
			timingVars(ns, "TTL", "PROPAGATION_TIMEOUT", "POLLING_INTERVAL")...),
		FileVars: true,
		Defaults: Timing{TTL: seconds(120), PropagationTimeout: seconds(180), PollingInterval: seconds(5)},
		Module:   "github.com/libdns/googleclouddns",
		Notes: "`GCE_SERVICE_ACCOUNT_FILE` (a key file path) is passed to the provider; the project defaults to the key's " +
			"`project_id`. Without a key file, Application Default Credentials are used and `GCE_PROJECT` is required " +
			"(lego's metadata-server auto-detection is not available). Inline `GCE_SERVICE_ACCOUNT` JSON and " +
			"`GCE_IMPERSONATE_SERVICE_ACCOUNT` are rejected; `GCE_ZONE_ID` and `GCE_ALLOW_PRIVATE_ZONE` are ignored.",
	}, buildGCloud)
}

func buildGCloud(e *envReader, _ Options) (Provider, error) {
	project := e.first(gcloudEnvProject)
	if e.plain(gcloudEnvServiceAccount) != "" {
		e.failf("%s holds the service account key inline, but the libdns Google Cloud DNS provider only takes a key "+
			"file: write the JSON to a file and set %s", gcloudEnvServiceAccount, gcloudEnvSAFile)
		return nil, e.err()
	}
	if e.isSet(gcloudEnvImpersonate) {
		e.failf("%s is not supported by the libdns Google Cloud DNS provider", gcloudEnvImpersonate)
	}
	e.ignored("the libdns Google Cloud DNS provider finds zones by name", gcloudEnvZoneID, gcloudEnvAllowPrivate)

	saFile := e.plain(gcloudEnvSAFile)
	if saFile != "" {
		data, err := os.ReadFile(saFile)
		if err != nil {
			e.failf("reading %s: %w", gcloudEnvSAFile, err)
		} else if project == "" {
			var key struct {
				ProjectID string `json:"project_id"`
			}
			if json.Unmarshal(data, &key) != nil || key.ProjectID == "" {
				e.failf("project ID not found in the service account file named by %s; set %s", gcloudEnvSAFile, gcloudEnvProject)
			}
			project = key.ProjectID
		}
	}
	if project == "" && saFile == "" {
		e.require(gcloudEnvProject, gcloudEnvSAFile)
	}
	if err := e.err(); err != nil {
		return nil, err
	}
	return &googleclouddns.Provider{Project: project, ServiceAccountJSON: saFile}, nil
}
