package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/hfconfig"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hfhub"
)

// Where a model's architecture came from (the `model_source` output).
const (
	sourceCatalog    = "catalog"
	sourceHub        = "hub"
	sourceHubCache   = "hub-cache"
	sourceConfigJSON = "model_config_json"
)

var revisionRE = regexp.MustCompile(hfhub.RevisionPattern)

// modelRef is how a configuration names a model: a catalog or Hub id (at a
// revision), or a config.json text, with an optional display name.
type modelRef struct {
	ID, Revision, ConfigJSON, Name types.String
}

// modelInputAttributes are the model inputs shared by every data source and
// function that reads a model.
func modelInputAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"model": schema.StringAttribute{
			Optional: true,
			Description: "Hugging Face model id, e.g. `Qwen/Qwen2.5-7B-Instruct`. A catalog id (or alias) is read from the built-in catalog; any other " +
				"`<org>/<name>` is read from the Hub's `config.json` at plan time (provider `hf_token`/`HF_TOKEN` for gated models, " +
				"`hf_endpoint`/`HF_ENDPOINT` for a mirror) and cached on disk for offline plans. Exactly one of `model` and `model_config_json` is required.",
			Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
		},
		"model_config_json": schema.StringAttribute{
			Optional:    true,
			Description: "The text of a Hugging Face `config.json` (e.g. `file(\"config.json\")`). Read as transformers reads it: the file's fields over its `model_type`'s defaults. Its `quantization_config` (awq, gptq, fp8, compressed-tensors, bitsandbytes, mxfp4) is honoured.",
			Validators:  []validator.String{stringvalidator.LengthAtLeast(2)},
		},
		"model_revision": schema.StringAttribute{
			Optional:    true,
			Description: "Branch, tag or commit of `model` on the Hub (default `main`). Setting it reads the Hub even for a catalog id. A commit hash is read once and then served from the cache.",
			Validators: []validator.String{
				stringvalidator.AlsoRequires(path.MatchRoot("model")),
				stringvalidator.RegexMatches(revisionRE, "must be a branch, tag or commit hash (letters, digits, `.`, `_`, `-`, `/`)"),
			},
		},
		"model_name": schema.StringAttribute{
			Optional:    true,
			Description: "Name shown for the model in outputs and messages, e.g. for a `model_config_json` (otherwise its `_name_or_path`, or `custom`).",
			Validators:  []validator.String{stringvalidator.LengthBetween(1, 200)},
		},
	}
}

// hubConfigure gives a data source the provider's Hub client; embedded by
// every data source that reads a model.
type hubConfigure struct{ hub *hfhub.Client }

func (h *hubConfigure) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	if data := providerData(req.ProviderData, &resp.Diagnostics); data != nil {
		h.hub = data.Hub
	}
}

// resolveModel reads the model a configuration names and says where from.
// Errors are *input.InputError naming the attribute.
func resolveModel(ctx context.Context, hub *hfhub.Client, ref modelRef) (hfconfig.Model, string, error) {
	m, src, err := readModel(ctx, hub, ref)
	if err == nil && !ref.Name.IsNull() && ref.Name.ValueString() != "" {
		m.ID = ref.Name.ValueString()
	}
	return m, src, err
}

func readModel(ctx context.Context, hub *hfhub.Client, ref modelRef) (hfconfig.Model, string, error) {
	if !ref.ConfigJSON.IsNull() {
		m, err := hfconfig.ParseConfigJSON([]byte(ref.ConfigJSON.ValueString()))
		return m, sourceConfigJSON, err
	}
	id := strings.TrimSpace(ref.ID.ValueString())
	rev := ref.Revision.ValueString()
	if rev == "" {
		if m, err := hfconfig.LookupModel(id); err == nil {
			return m, sourceCatalog, nil
		} else if !hfhub.ValidID(id) {
			return m, "", err // not an <org>/<name>: the catalog's error with its did-you-mean
		}
	}
	if hub == nil {
		hub = hfhub.FromEnv("", "")
	}
	body, from, err := hub.ConfigJSON(ctx, id, rev)
	if err != nil {
		msg := fmt.Sprintf("%q is not in the built-in catalog, and reading it from the Hub failed: %s.", id, strings.TrimRight(err.Error(), "."))
		if errors.Is(err, hfhub.ErrNotFound) {
			if s := hfconfig.SuggestModel(id); s != "" {
				msg += fmt.Sprintf(" Did you mean %q?", s)
			}
		}
		if !strings.Contains(msg, "model_config_json") { // the Hub client's advice may already say it
			msg += " Alternatively pass the model's config.json text as model_config_json."
		}
		return hfconfig.Model{}, "", &input.InputError{Attribute: "model", Message: msg}
	}
	m, err := hfconfig.ParseConfigJSON(body)
	if err != nil {
		var ie *input.InputError
		if errors.As(err, &ie) {
			return m, "", &input.InputError{Attribute: "model", Message: fmt.Sprintf("the config.json of %s (revision %s) from %s: %s", id, revOrMain(rev), hub.Endpoint, ie.Message)}
		}
		return m, "", err
	}
	m.ID = id // not _name_or_path, often a local training path
	if from == hfhub.FromCache {
		return m, sourceHubCache, nil
	}
	return m, sourceHub, nil
}

func revOrMain(r string) string {
	if r == "" {
		return "main"
	}
	return r
}
