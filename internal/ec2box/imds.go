package ec2box

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// imds is one instance's IMDSv2: a session token from PUT /latest/api/token
// is required on every GET, as with HttpTokens=required.
type imds struct {
	box *Box
	id  string

	mu     sync.Mutex
	tokens map[string]time.Time
}

const imdsRole = "ec2box-instance-role"

func (m *imds) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" {
		if r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") == "" {
			http.Error(w, "missing X-aws-ec2-metadata-token-ttl-seconds", http.StatusBadRequest)
			return
		}
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		tok := hex.EncodeToString(b)
		m.mu.Lock()
		m.tokens[tok] = time.Now().Add(6 * time.Hour)
		m.mu.Unlock()
		_, _ = w.Write([]byte(tok))
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	m.mu.Lock()
	exp, ok := m.tokens[r.Header.Get("X-aws-ec2-metadata-token")]
	m.mu.Unlock()
	if !ok || time.Now().After(exp) {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	inst, err := m.box.describe(r.Context(), m.id)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/latest/")
	var body string
	switch {
	case p == "meta-data/instance-id":
		body = inst.id
	case p == "meta-data/local-ipv4":
		body = inst.privateIP
	case p == "meta-data/instance-type":
		body = inst.instanceType
	case p == "meta-data/ami-id":
		body = inst.ami
	case p == "meta-data/placement/region":
		body = m.box.region
	case p == "meta-data/placement/availability-zone":
		body = inst.az
	case p == "meta-data/tags/instance" || p == "meta-data/tags/instance/":
		keys := make([]string, 0, len(inst.tags))
		for k := range inst.tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		body = strings.Join(keys, "\n")
	case strings.HasPrefix(p, "meta-data/tags/instance/"):
		v, ok := inst.tags[strings.TrimPrefix(p, "meta-data/tags/instance/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		body = v
	case p == "meta-data/iam/security-credentials/" || p == "meta-data/iam/security-credentials":
		body = imdsRole
	case p == "meta-data/iam/security-credentials/"+imdsRole:
		// moto accepts any key; the shape is what the SDKs parse.
		b, _ := json.Marshal(map[string]string{
			"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": "ASIAEC2BOX" + strings.ToUpper(inst.id[2:]),
			"SecretAccessKey": "ec2box-instance-role-secret", "Token": "ec2box-session",
			"LastUpdated": time.Now().UTC().Format(time.RFC3339), "Expiration": time.Now().Add(6 * time.Hour).UTC().Format(time.RFC3339),
		})
		body = string(b)
	case p == "user-data":
		body = inst.userData
	default:
		http.NotFound(w, r)
		return
	}
	_, _ = w.Write([]byte(body))
}
