package ec2box

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

// consoleMax is how much of the console EC2 returns: the last 64 KiB.
const consoleMax = 64 << 10

// front is the box's EC2 endpoint: moto, except GetConsoleOutput, which moto
// answers with a fixed text and the box with the instance's real console.
type front struct {
	box   *Box
	proxy *httputil.ReverseProxy
}

func newFront(b *Box, upstream *url.URL) *front {
	return &front{box: b, proxy: httputil.NewSingleHostReverseProxy(upstream)}
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.Body != nil {
		body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_ = r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
		if form, err := url.ParseQuery(string(body)); err == nil && form.Get("Action") == "GetConsoleOutput" {
			if out, ok := f.box.console(form.Get("InstanceId")); ok {
				writeConsole(w, form.Get("InstanceId"), out)
				return
			}
		}
	}
	f.proxy.ServeHTTP(w, r)
}

func writeConsole(w http.ResponseWriter, id string, out []byte) {
	if len(out) > consoleMax {
		out = out[len(out)-consoleMax:]
	}
	type resp struct {
		XMLName    xml.Name `xml:"GetConsoleOutputResponse"`
		XMLNS      string   `xml:"xmlns,attr"`
		RequestID  string   `xml:"requestId"`
		InstanceID string   `xml:"instanceId"`
		Timestamp  string   `xml:"timestamp"`
		Output     string   `xml:"output"`
	}
	w.Header().Set("Content-Type", "text/xml")
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(resp{
		XMLNS: "http://ec2.amazonaws.com/doc/2016-11-15/", RequestID: "ec2box-console", InstanceID: id,
		Timestamp: time.Now().UTC().Format(time.RFC3339), Output: base64.StdEncoding.EncodeToString(out),
	})
}

// forward accepts on l and copies each connection to and from upstream
// (moto on loopback), so that the instances reach it at the gateway.
func forward(ctx context.Context, l net.Listener, upstream string) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer func() { _ = c.Close() }()
			u, err := (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, "tcp", upstream)
			if err != nil {
				return
			}
			defer func() { _ = u.Close() }()
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
			go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
			<-done
		}()
	}
}
