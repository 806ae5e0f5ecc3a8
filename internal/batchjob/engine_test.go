package batchjob

import (
	"encoding/json"
	"reflect"
	"testing"
)

// engine_kwargs_json's arguments travel in the script's engine_kwargs beside
// the typed ones, which win, and come back as Extra on import.
func TestEngineExtraRoundTrip(t *testing.T) {
	tp, eager := int64(2), true
	e := Engine{TensorParallelSize: &tp, EnforceEager: &eager,
		Extra: map[string]any{"max_logprobs": json.Number("5"), "compilation_config": map[string]any{"mode": json.Number("0")}, "tensor_parallel_size": json.Number("8")}}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var flat map[string]any
	if err := json.Unmarshal(b, &flat); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"tensor_parallel_size": 2.0, "enforce_eager": true, "max_logprobs": 5.0, "compilation_config": map[string]any{"mode": 0.0}}
	if !reflect.DeepEqual(flat, want) {
		t.Errorf("rendered %s, want %v", b, want)
	}
	var back Engine
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if *back.TensorParallelSize != 2 || !*back.EnforceEager || len(back.Extra) != 2 || back.Extra["max_logprobs"] != json.Number("5") {
		t.Errorf("read back %+v, extra %v", back, back.Extra)
	}
	if b, _ := json.Marshal(Engine{}); string(b) != "{}" {
		t.Errorf("no settings: %s, want {}", b)
	}
}
