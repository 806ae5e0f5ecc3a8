package hardware

import (
	"fmt"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
)

// TestMemoryGroupedCV checks the memory model's one fitted additive
// overhead on records it was not fitted to. Each fold holds out one group of
// start-up records (one vLLM release line, or one GPU), refits the
// single-GPU non-torch memory (nonTorchGiB) on the rest so that their median
// KV-cache residual is zero, and predicts the held-out records' KV cache
// with it. The gate: per grouping, the median |KV error| over all held-out
// records within 10%, and within 20% for each group of three or more;
// every fold's refitted non-torch memory between 0 and 1.79 GiB, the
// largest single-GPU non-torch figure a record printed (M03). The refit
// lumps into non-torch memory whatever the activation term misses, so it
// is read as "non-KV overhead"; the production constant stays the 0.13 GiB
// the V1 logs print (see the guide). Each group's median and worst are
// logged and written to the guide (make calibration-table).
func TestMemoryGroupedCV(t *testing.T) {
	t.Parallel()
	pts := memoryCVPoints(t)
	if len(pts) < 15 {
		t.Fatalf("only %d records with a KV figure", len(pts))
	}
	var b strings.Builder
	b.WriteString("| Grouped by | Held-out group | Records | Non-torch refitted without it (GiB) | Median \\|KV error\\| | Worst |\n|---|---|---|---|---|---|\n")
	for _, by := range []struct {
		name string
		key  func(memoryCVPoint) string
	}{{"vLLM release", func(p memoryCVPoint) string { return p.release }}, {"GPU", func(p memoryCVPoint) string { return p.gpu }}} {
		groups := map[string][]memoryCVPoint{}
		for _, p := range pts {
			groups[by.key(p)] = append(groups[by.key(p)], p)
		}
		names := make([]string, 0, len(groups))
		for g := range groups {
			names = append(names, g)
		}
		sort.Strings(names)
		var all []float64
		for _, g := range names {
			var train []float64
			for _, p := range pts {
				if by.key(p) != g {
					train = append(train, p.residualGiB)
				}
			}
			shift := median(train) // GiB the overhead is under-counted by
			nt := nonTorchGiB + shift
			if nt < 0 || nt > 1.79 {
				t.Errorf("by %s without %s: refitted non-torch memory %.2f GiB is outside 0–1.79 GiB", by.name, g, nt)
			}
			var errs []float64
			worst, worstID := 0.0, ""
			for _, p := range groups[g] {
				e := math.Abs(p.residualGiB-shift) / p.observedGiB
				errs = append(errs, e)
				if e >= worst {
					worst, worstID = e, p.id
				}
			}
			all = append(all, errs...)
			if len(errs) >= 3 && median(errs) > 0.20 {
				t.Errorf("by %s: held-out group %s's median |KV error| %.1f%% exceeds 20%%", by.name, g, 100*median(errs))
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %.2f | %.1f%% | %.1f%% (%s) |\n", by.name, g, len(errs), nt, 100*median(errs), 100*worst, worstID)
		}
		m := median(all)
		fmt.Fprintf(&b, "| %s | **all held out** | %d | | **%.1f%%** | |\n", by.name, len(all), 100*m)
		if m > 0.10 {
			t.Errorf("grouped by %s: median held-out |KV error| %.1f%% exceeds 10%%", by.name, 100*m)
		}
	}
	t.Log("\n" + b.String())
	if path := os.Getenv("CALIBRATION_TABLE"); path != "" {
		writeBetweenMarkers(t, path, "memory-cv-table", b.String())
	}
}

type memoryCVPoint struct {
	id, release, gpu string
	// residualGiB is predicted − observed KV cache on one GPU, in GiB
	// (from the token count × bytes per token where only tokens or blocks
	// were printed); observedGiB is the observed KV cache it is relative to.
	residualGiB, observedGiB float64
}

var releaseLineRE = regexp.MustCompile(`(\d+)\.(\d+)`)

// releaseLine buckets a record's printed vllm_version: the V0-only
// releases, the 0.8–0.18 releases (V0 and V1 engines, the sorting
// sampler), 0.19 and later (the sort-free sampler), or not stated.
func releaseLine(r calRecord) string {
	if r.Version == nil {
		return "not stated"
	}
	m := releaseLineRE.FindStringSubmatch(*r.Version)
	if m == nil {
		return "not stated"
	}
	minor, _ := strconv.Atoi(m[2])
	switch {
	case m[1] != "0" || minor >= 19:
		return "0.19 and later"
	case minor >= 8:
		return "0.8–0.18"
	}
	return "before 0.8"
}

func memoryCVPoints(t *testing.T) []memoryCVPoint {
	mem := loadCalibration(t)
	var pts []memoryCVPoint
	for _, r := range mem {
		ci := calInputs[r.ID]
		if ci.skip != "" || r.ID == "M13" { // M13: a vLLM bug put the KV cache on one device
			continue
		}
		in, err := calibrationInput(r, ci)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Fit(in)
		if err != nil {
			t.Fatal(err)
		}
		p := memoryCVPoint{id: r.ID, release: releaseLine(r), gpu: in.GPU.Name}
		if kv, ok := obsFloat(r.Observed, "kv_cache_gib", "available_kv_cache_gib", "available_kv_cache_gb_as_printed"); ok && kv > 0 {
			p.residualGiB, p.observedGiB = res.KVCacheGiB-kv, kv
		} else {
			tokens, ok := obsFloat(r.Observed, "kv_cache_tokens")
			if !ok {
				b, okb := obsFloat(r.Observed, "gpu_blocks")
				if !okb || b <= 0 {
					continue
				}
				tokens = b * float64(max(in.BlockSize, 16))
			}
			perTok := float64(res.KVCacheBytesPerTok) / catalog.GiB
			p.residualGiB, p.observedGiB = (float64(res.KVCacheTokens)-tokens)*perTok, tokens*perTok
		}
		pts = append(pts, p)
	}
	return pts
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}
