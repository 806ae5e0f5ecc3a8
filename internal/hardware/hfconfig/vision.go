package hfconfig

// Encoder towers of multimodal models: their parameters are loaded with the
// weights (vLLM keeps the vision/audio encoder on every GPU of the engine in
// the model dtype), so they count in Params and in the weight memory. Counts
// follow the transformers modules layer by layer, with the defaults of each
// tower's configuration class (transformers 5.19.0):
//   - siglip_vision_model: siglip/modeling_siglip.py (SiglipVisionTransformer;
//     the attention-pooling head unless vision_use_head is false)
//   - clip_vision_model: clip/modeling_clip.py (CLIPVisionTransformer)
//   - qwen2_5_vl_vision: qwen2_5_vl/modeling_qwen2_5_vl.py
//     (Qwen2_5_VisionTransformerPretrainedModel with its patch merger)
//   - qwen3_vl_vision: qwen3_vl/modeling_qwen3_vl.py (Qwen3VLVisionModel with
//     its merger and deepstack mergers)
//   - pixtral: pixtral/modeling_pixtral.py (PixtralVisionModel)
//   - llama4_vision_model: llama4/modeling_llama4.py (llama4.go)
//   - GLM-4V's: glm4v/modeling_glm4v.py (glm4v.go)
//
// plus the projector between tower and language model (gemma3:
// Gemma3MultiModalProjector; llava: LlavaMultiModalProjector).

// vitLayer is one pre-norm ViT block with biased q/k/v/o, a two-matrix MLP
// and two LayerNorms (weight and bias).
func vitLayer(h, inter float64) float64 {
	return 4*(h*h+h) + (h*inter + inter) + (inter*h + h) + 2*2*h
}

// towerInts reads a tower's integer fields as float64, keeping the first
// error in err.
type towerInts struct {
	v   cfg
	err error
}

func (r *towerInts) get(def int, key string) float64 {
	if r.err != nil {
		return 0
	}
	x, err := r.v.int(def, key)
	r.err = err
	return float64(x)
}

// towerParams counts the encoder tower of a multimodal config plus its
// projector into the language model of width textHidden.
func towerParams(root cfg, modelType string, textHidden int) (int64, error) {
	v, ok, err := root.sub("vision_config")
	if err != nil {
		return 0, err
	}
	if root.has("audio_config") {
		return 0, cfgErr("audio_config", "audio encoders are not modelled (model_type %q); only text and vision towers", modelType)
	}
	if !ok {
		return 0, nil
	}
	vt, err := v.str("model_type")
	if err != nil {
		return 0, err
	}
	if vt == "" { // the class's own sub-config type (e.g. LlavaConfig: clip_vision_model)
		if d, ok := modelTypes[modelType].defaults["vision_config"].(map[string]any); ok {
			vt, _ = d["model_type"].(string)
		}
	}
	geti := func(def int, keys ...string) int {
		if err != nil {
			return 0
		}
		var x int
		x, err = v.int(def, keys...)
		return x
	}
	if modelType == "glm4v" || modelType == "glm4v_moe" {
		return glm4vTowerParams(v) // with its merger (glm4v.go)
	}
	if vt == "llama4_vision_model" && modelType == "llama4" {
		return llama4TowerParams(v, textHidden) // with its projector (llama4.go)
	}
	var p float64
	switch vt {
	case "siglip_vision_model", "clip_vision_model":
		clip := vt == "clip_vision_model"
		patchDef, headDef := 16, true
		if clip {
			patchDef = 32
		}
		h := float64(geti(768, "hidden_size"))
		inter := float64(geti(3072, "intermediate_size"))
		layers := float64(geti(12, "num_hidden_layers"))
		ch := float64(geti(3, "num_channels"))
		patch := geti(patchDef, "patch_size")
		img := geti(224, "image_size")
		if err != nil {
			return 0, err
		}
		if patch < 1 {
			return 0, cfgErr(v.prefix+"patch_size", "must be a positive integer")
		}
		patches := float64((img / patch) * (img / patch))
		p = layers*vitLayer(h, inter) + 2*h // encoder + post_layernorm
		if clip {
			// class embedding, bias-free patch conv, one more position, pre_layrnorm
			p += h + ch*float64(patch*patch)*h + (patches+1)*h + 2*h
		} else {
			p += ch*float64(patch*patch)*h + h + patches*h
			useHead, e := v.bool(headDef, "vision_use_head")
			if e != nil {
				return 0, e
			}
			if useHead { // probe, nn.MultiheadAttention, LayerNorm, MLP
				p += h + (3*h*h + 3*h) + (h*h + h) + 2*h + (h*inter + inter) + (inter*h + h)
			}
		}
	case "qwen2_5_vl_vision":
		h := float64(geti(3584, "hidden_size"))
		inter := float64(geti(3420, "intermediate_size"))
		depth := float64(geti(32, "depth"))
		ch := float64(geti(3, "in_channels"))
		patch := float64(geti(14, "patch_size"))
		tp := float64(geti(2, "temporal_patch_size"))
		merge := float64(geti(2, "spatial_merge_size"))
		out := float64(geti(3584, "out_hidden_size"))
		if err != nil {
			return 0, err
		}
		block := 2*h + (h*3*h + 3*h) + (h*h + h) + 2*(h*inter+inter) + (inter*h + h)
		mh := h * merge * merge
		p = ch*tp*patch*patch*h + depth*block + h + (mh*mh + mh) + (mh*out + out)
		return ClampInt64(p), nil // the merger is the projector
	case "qwen3_vl_vision", "qwen3_vl_moe_vision": // qwen3_vl/modeling_qwen3_vl.py (Qwen3VLVisionModel)
		h := float64(geti(1152, "hidden_size"))
		inter := float64(geti(4304, "intermediate_size"))
		depth := float64(geti(27, "depth"))
		ch := float64(geti(3, "in_channels"))
		patch := float64(geti(16, "patch_size"))
		tp := float64(geti(2, "temporal_patch_size"))
		merge := float64(geti(2, "spatial_merge_size"))
		out := float64(geti(3584, "out_hidden_size"))
		npos := float64(geti(2304, "num_position_embeddings"))
		deep := 3.0 // deepstack_visual_indexes (8, 16, 24)
		if l, ok := v.obj["deepstack_visual_indexes"].([]any); ok {
			deep = float64(len(l))
		}
		if err != nil {
			return 0, err
		}
		block := 2*2*h + (h*3*h + 3*h) + (h*h + h) + (h*inter + inter) + (inter*h + h)
		hs := h * merge * merge
		merger := (hs*hs + hs) + (hs*out + out)
		// patch Conv3d with bias, learned positions, blocks, the merger
		// (LayerNorm over h) and one deepstack merger per index (over h·s²)
		p = ch*tp*patch*patch*h + h + npos*h + depth*block + merger + 2*h + deep*(merger+2*hs)
		return ClampInt64(p), nil // the mergers are the projector
	case "pixtral": // pixtral/modeling_pixtral.py (PixtralVisionModel): a bias-free, RMS-normed ViT
		h := float64(geti(1024, "hidden_size"))
		inter := float64(geti(4096, "intermediate_size"))
		layers := float64(geti(24, "num_hidden_layers"))
		ch := float64(geti(3, "num_channels"))
		patch := float64(geti(16, "patch_size"))
		if err != nil {
			return 0, err
		}
		p = ch*patch*patch*h + h + layers*(2*h+4*h*h+3*h*inter)
	default:
		return 0, cfgErr(v.prefix+"model_type", "vision tower %q of model_type %q is not modelled (known: siglip_vision_model, clip_vision_model, qwen2_5_vl_vision, qwen3_vl_vision, pixtral; llama4_vision_model in model_type llama4). "+
			"To plan the language model alone, set model_config_json to this config's \"text_config\" object (with its \"model_type\") and run vLLM text-only (--language-model-only, or limit_mm_per_prompt 0 for every modality), which skips loading the tower", vt, modelType)
	}
	vh := float64(geti(768, "hidden_size"))
	th := float64(textHidden)
	switch modelType {
	case "gemma3": // mm_input_projection_weight and mm_soft_emb_norm
		p += vh*th + vh
	case "llava":
		bias, e := root.bool(true, "multimodal_projector_bias")
		if e != nil {
			return 0, e
		}
		in := vh
		if l, ok := root.obj["vision_feature_layer"].([]any); ok {
			in = vh * float64(len(l))
		}
		p += in*th + th*th
		if bias {
			p += 2 * th
		}
	case "mistral3": // Mistral3MultiModalProjector: RMSNorm, patch merger, two linears
		merge, e := root.int(2, "spatial_merge_size")
		if e != nil {
			return 0, e
		}
		bias, e := root.bool(false, "multimodal_projector_bias")
		if e != nil {
			return 0, e
		}
		in := vh
		if l, ok := root.obj["vision_feature_layer"].([]any); ok {
			in = vh * float64(len(l))
		}
		p += vh + vh*float64(merge*merge)*vh + in*th + th*th
		if bias {
			p += 2 * th
		}
	default:
		return 0, cfgErr("model_type", "the projector of %q between its %s tower and the language model is not modelled", modelType, vt)
	}
	return ClampInt64(p), err
}
