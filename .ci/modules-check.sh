#!/usr/bin/env bash
# Checks the Terraform modules (modules/*) and every example:
#   readme    each module's README.md Inputs/Outputs tables match its
#             variables and outputs exactly (name, description, type,
#             default, required); every variable has a type and a
#             description, every output a description
#   fmt       terraform fmt -check over modules/ and examples/
#   validate  terraform init + validate in every directory with .tf files
#             under modules/ and examples/
#   plan      terraform plan in every example (examples/*, modules/*/examples/*)
#             and every hcl block of README.md, modules/README.md and
#             modules/*/README.md (module sources pointed at this checkout),
#             offline: placeholder values for the examples' required
#             variables, the Hub's config.json files from
#             internal/hardware/hfconfig/testdata/configs/hub as the provider's cache;
#             the ephemeral token example reads its SSM parameter from moto
#             when AWS_ENDPOINT_URL_SSM is set (make test), else it is
#             skipped. A README block right after a line
#             `<!-- snippet: not planned: WHY -->` is skipped, and counted.
#             Then every `<!-- figures: DIR OUTPUT=VALUE ... -->` in a README
#             is checked: VALUE is DIR's planned output rounded to VALUE's
#             digits, and VALUE appears in the paragraph that follows.
#   test      terraform test in every module with tests/*.tftest.hcl; a
#             module's tests/services/*.tftest.hcl (apply-level, against the
#             real services) run too when RAY_ADDRESS and AWS_ENDPOINT_URL_EC2
#             are set (make test sets them), else they are skipped
#   promtool  renders modules/monitoring's rules and dashboards, runs the real
#             `promtool check rules` and `promtool test rules`, and checks that
#             every vLLM series they read is in modules/monitoring/vllm_metrics.txt
#
# Usage: .ci/modules-check.sh [all|readme|fmt|validate|plan|test|promtool]...
#        .ci/modules-check.sh readme-write   (rewrites the README tables)
# Needs bin/terraform (make terraform) and the provider in the local mirror
# (make install, which writes .tmp/terraformrc). promtool comes from Debian's
# `prometheus` package; it is installed with apt-get when missing and root.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# TERRAFORM=bin/tofu runs the same checks with OpenTofu (make test's OpenTofu lane).
TERRAFORM=${TERRAFORM:-$ROOT/bin/terraform}
CLI=$(basename "$TERRAFORM")
[ -f "${TF_CLI_CONFIG_FILE:-}" ] || export TF_CLI_CONFIG_FILE=$ROOT/.tmp/terraformrc
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0

die() { echo "modules-check: $*" >&2; exit 1; }
say() { echo "modules-check: $*"; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/modules-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

need_terraform() {
  [ -x "$TERRAFORM" ] || die "$TERRAFORM not found: run 'make terraform'"
  [ -f "$TF_CLI_CONFIG_FILE" ] || die "$TF_CLI_CONFIG_FILE not found: run 'make install' (builds the provider into the local mirror)"
}

module_dirs() {
  local d
  for d in modules/*/; do
    d=${d%/}
    compgen -G "$d/*.tf" >/dev/null && echo "$d"
  done
}

# Every directory with .tf files, outside .terraform.
tf_dirs() {
  find modules examples -name '*.tf' -not -path '*/.terraform/*' -printf '%h\n' 2>/dev/null | sort -u
}

# Terraform runs in a copy of modules/ and examples/ (relative module sources
# keep working), so that no .terraform or lock file lands in the checkout.
TREE=$WORK/tree
copy_tree() {
  [ -d "$TREE" ] && return 0
  mkdir -p "$TREE"
  tar --exclude=.terraform --exclude=.terraform.lock.hcl --exclude='*.tfstate*' -cf - modules examples | tar -xf - -C "$TREE"
}

# init from the local mirror, no backend; DIR is relative to the repository.
tf_init() {
  copy_tree
  "${2:-$TERRAFORM}" -chdir="$TREE/$1" init -backend=false -input=false -no-color >"$WORK/init.log" 2>&1 ||
    { cat "$WORK/init.log" >&2; die "terraform init failed in $1"; }
}

# ---------------------------------------------------------------------------
readme() {
  local mode=${1:-check}
  local dirs
  dirs=$(module_dirs)
  [ -n "$dirs" ] || die "no module under modules/"
  # shellcheck disable=SC2086
  python3 - "$mode" $dirs <<'PY'
import os, re, sys

mode, dirs = sys.argv[1], sys.argv[2:]

def skip_string(s, i):
    """s[i] is '"'; return the index after the closing quote."""
    i += 1
    while i < len(s):
        c = s[i]
        if c == '\\':
            i += 2
            continue
        if c == '"':
            return i + 1
        if s.startswith('${', i) or s.startswith('%{', i):
            if i > 0 and s[i - 1] == s[i] and (i < 2 or s[i - 2] != s[i]):
                i += 2          # $${ and %%{ are escapes
                continue
            i = skip_expr(s, i + 2, '}')
            continue
        i += 1
    raise SystemExit('unterminated string')

def skip_heredoc(s, i):
    m = re.compile(r'<<-?([A-Za-z_][A-Za-z0-9_]*)\n').match(s, i)
    end = re.compile(r'^\s*' + m.group(1) + r'\s*$', re.M).search(s, m.end())
    return end.end()

def skip_comment(s, i):
    if s.startswith('/*', i):
        return s.index('*/', i) + 2
    j = s.find('\n', i)
    return len(s) if j < 0 else j

def skip_expr(s, i, close):
    """Scan from i to just after the bracket that closes at depth 0."""
    depth = 0
    while i < len(s):
        c = s[i]
        if c == '"':
            i = skip_string(s, i); continue
        if s.startswith('<<', i) and re.match(r'<<-?[A-Za-z_]', s[i:i + 4]):
            i = skip_heredoc(s, i); continue
        if c == '#' or s.startswith('//', i) or s.startswith('/*', i):
            i = skip_comment(s, i); continue
        if c in '([{':
            depth += 1
        elif c in ')]}':
            if depth == 0:
                if c != close:
                    raise SystemExit('unbalanced brackets')
                return i + 1
            depth -= 1
        i += 1
    raise SystemExit('unterminated block')

def value_end(s, i):
    """End of an attribute value starting at i: newline at depth 0."""
    depth = 0
    while i < len(s):
        c = s[i]
        if c == '"':
            i = skip_string(s, i); continue
        if s.startswith('<<', i) and re.match(r'<<-?[A-Za-z_]', s[i:i + 4]):
            i = skip_heredoc(s, i); continue
        if c == '#' or s.startswith('//', i) or s.startswith('/*', i):
            if depth == 0:
                return i
            i = skip_comment(s, i); continue
        if c in '([{':
            depth += 1
        elif c in ')]}':
            depth -= 1
        elif c == '\n' and depth == 0:
            return i
        i += 1
    return i

def blocks(text, kind):
    for m in re.finditer(r'^%s\s+"([^"]+)"\s*\{' % kind, text, re.M):
        end = skip_expr(text, m.end(), '}')
        yield m.group(1), text[m.end():end - 1]

def attributes(body):
    """Top-level attributes of a block body; nested blocks are skipped."""
    attrs, i = {}, 0
    ident = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_-]*)\s*(=(?!=)|\{)')
    while i < len(body):
        if body[i] in ' \t\r\n':
            i += 1; continue
        if body[i] == '#' or body.startswith('//', i) or body.startswith('/*', i):
            i = skip_comment(body, i); continue
        m = ident.match(body, i)
        if not m:
            raise SystemExit('cannot parse near: ' + body[i:i + 40])
        if m.group(2) == '{':
            i = skip_expr(body, m.end(), '}')
            continue
        end = value_end(body, m.end())
        attrs[m.group(1)] = body[m.end():end].strip()
        i = end
    return attrs

def hcl_string(v):
    v = v.strip()
    m = re.fullmatch(r'<<-?([A-Za-z_][A-Za-z0-9_]*)\n(.*?)\n\s*\1', v, re.S)
    if m:
        return ' '.join(l.strip() for l in m.group(2).splitlines())
    if not (v.startswith('"') and v.endswith('"')):
        raise SystemExit('description is not a string literal: ' + v)
    out, i, s = [], 0, v[1:-1]
    esc = {'n': ' ', 't': ' ', '"': '"', '\\': '\\', 'r': ''}
    while i < len(s):
        if s[i] == '\\' and i + 1 < len(s):
            out.append(esc.get(s[i + 1], s[i + 1])); i += 2; continue
        if s.startswith('$${', i) or s.startswith('%%{', i):
            out.append(s[i + 1:i + 3]); i += 3; continue
        out.append(s[i]); i += 1
    return ''.join(out)

def one_line(expr):
    """HCL expression text on one line: items on separate lines get commas."""
    lines = [l.strip() for l in expr.splitlines() if l.strip() and not l.strip().startswith('#')]
    out = ''
    for l in lines:
        if out and not out.endswith(('{', '(', '[', ',')) and not l.startswith(('}', ')', ']')):
            out += ','
        out += ' ' + l
    out = re.sub(r'\s+', ' ', out).strip()
    out = re.sub(r'([\[({]) ', r'\1', out)
    out = re.sub(r' ([\])}])', r'\1', out)
    return re.sub(r',([\])}])', r'\1', out)

def cell(s):
    return s.replace('|', '\\|')

def code(s):
    return '`' + cell(s) + '`'

def expected(d):
    inputs, outputs, errors = {}, {}, []
    for f in sorted(os.listdir(d)):
        if not f.endswith('.tf'):
            continue
        text = open(os.path.join(d, f)).read()
        for name, body in blocks(text, 'variable'):
            a = attributes(body)
            if 'type' not in a:
                errors.append(f'{d}: variable "{name}" has no type')
            if 'description' not in a:
                errors.append(f'{d}: variable "{name}" has no description')
            inputs[name] = [code(name), cell(hcl_string(a.get('description', '""'))),
                            code(one_line(a.get('type', 'any'))),
                            code(one_line(a['default'])) if 'default' in a else 'n/a',
                            'no' if 'default' in a else 'yes']
        for name, body in blocks(text, 'output'):
            a = attributes(body)
            if 'description' not in a:
                errors.append(f'{d}: output "{name}" has no description')
            outputs[name] = [code(name), cell(hcl_string(a.get('description', '""')))]
    return inputs, outputs, errors

HEAD = {
    'INPUTS': ['| Name | Description | Type | Default | Required |', '|------|-------------|------|---------|:--------:|'],
    'OUTPUTS': ['| Name | Description |', '|------|-------------|'],
}

def render(kind, rows):
    return '\n'.join(HEAD[kind] + ['| ' + ' | '.join(r) + ' |' for _, r in sorted(rows.items())])

def section(text, kind):
    m = re.search(r'<!-- BEGIN_%s -->\n(.*?)<!-- END_%s -->' % (kind, kind), text, re.S)
    return m

def split_row(line):
    cells, cur, i = [], '', 1
    line = line.strip()
    while i < len(line) - 1:
        if line[i] == '\\' and line[i + 1] == '|':
            cur += '\\|'; i += 2; continue
        if line[i] == '|':
            cells.append(cur.strip()); cur = ''; i += 1; continue
        cur += line[i]; i += 1
    cells.append(cur.strip())
    return cells

failures = []
for d in dirs:
    inputs, outputs, errors = expected(d)
    failures += errors
    path = os.path.join(d, 'README.md')
    if not os.path.exists(path):
        failures.append(f'{path}: missing')
        continue
    text = open(path).read()
    for kind, rows in (('INPUTS', inputs), ('OUTPUTS', outputs)):
        m = section(text, kind)
        if not m:
            failures.append(f'{path}: no <!-- BEGIN_{kind} --> ... <!-- END_{kind} --> table')
            continue
        if mode == 'write':
            text = text[:m.start(1)] + render(kind, rows) + '\n' + text[m.end(1):]
            continue
        lines = [l for l in m.group(1).splitlines() if l.strip().startswith('|')][2:]
        got = {}
        for l in lines:
            c = split_row(l)
            got[c[0].strip('`')] = c
        what = 'input' if kind == 'INPUTS' else 'output'
        for name in sorted(set(rows) - set(got)):
            failures.append(f'{path}: {what} "{name}" is missing from the table')
        for name in sorted(set(got) - set(rows)):
            failures.append(f'{path}: table lists {what} "{name}", which the module does not have')
        cols = HEAD[kind][0].strip('|').split('|')
        for name in sorted(set(rows) & set(got)):
            for col, want, have in zip(cols, rows[name], got[name] + [''] * 9):
                if want != have:
                    failures.append(f'{path}: {what} "{name}" {col.strip()} differs:\n    README: {have}\n    module: {want}')
    if mode == 'write':
        open(path, 'w').write(text)
        print(f'modules-check: wrote tables in {path}')

if failures:
    print('\n'.join('modules-check: ' + f for f in failures), file=sys.stderr)
    print('modules-check: fix the README or run .ci/modules-check.sh readme-write', file=sys.stderr)
    sys.exit(1)
print(f'modules-check: README tables match {len(dirs)} module(s)')
PY
}

# ---------------------------------------------------------------------------
fmt_check() {
  need_terraform
  "$TERRAFORM" fmt -check -recursive -diff -no-color modules examples >"$WORK/fmt.log" 2>&1 ||
    { cat "$WORK/fmt.log" >&2; die "terraform fmt: run '$TERRAFORM fmt -recursive modules examples'"; }
  say "terraform fmt: ok"
}

# Whether bin/terraform predates ephemeral resources and write-only arguments.
# The version is read whole: with `| grep -q`, grep's early exit could end
# terraform with SIGPIPE, which pipefail made a false answer at random (CI
# once validated an ephemeral example with Terraform 1.8.5).
terraform_predates_ephemeral() {
  local v
  v=$("$TERRAFORM" version 2>/dev/null) || true
  [[ $v =~ ^Terraform\ v1\.[0-9]\. ]]
}

validate() {
  need_terraform
  copy_tree
  local d n=0 m=0
  for d in $(tf_dirs); do
    # tfplugindocs snippets (examples/data-sources/..., examples/functions/...)
    # leave out required_providers; the copy gets a file that declares it.
    if ! grep -qs 'required_providers' "$d"/*.tf && grep -Eqs 'rayvllm_|provider::rayvllm::|provider "rayvllm"' "$d"/*.tf; then
      printf 'terraform {\n  required_providers {\n    rayvllm = {\n      source = "rayvllm/rayvllm"\n    }\n  }\n}\n' >"$TREE/$d/zz_required_providers.tf"
    fi
    # Ephemeral resources and write-only arguments are newer than Terraform
    # 1.8.5: such examples are validated with OpenTofu (make tofu).
    local cli=$TERRAFORM
    if grep -Eqs '^ephemeral "|_wo[[:space:]]*=' "$d"/*.tf && terraform_predates_ephemeral; then
      cli=$ROOT/bin/tofu
      [ -x "$cli" ] || die "$d needs OpenTofu (ephemeral resources or write-only arguments): run 'make tofu'"
      m=$((m + 1))
    fi
    tf_init "$d" "$cli"
    "$cli" -chdir="$TREE/$d" validate -no-color >"$WORK/validate.log" 2>&1 ||
      { cat "$WORK/validate.log" >&2; die "$(basename "$cli") validate failed in $d"; }
    n=$((n + 1))
  done
  say "terraform validate: $n directories ok ($m of them with OpenTofu: they use features newer than $("$TERRAFORM" version 2>/dev/null | awk 'NR == 1'))"
}

# The CLI for DIR: OpenTofu where the configuration uses ephemeral resources
# or write-only arguments and bin/terraform is older than they are.
cli_for() {
  if grep -Eqs '^ephemeral "|_wo[[:space:]]*=' "$1"/*.tf && terraform_predates_ephemeral; then
    [ -x "$ROOT/bin/tofu" ] || die "$1 needs OpenTofu (ephemeral resources or write-only arguments): run 'make tofu'"
    echo "$ROOT/bin/tofu"
  else
    echo "$TERRAFORM"
  fi
}

# tfplugindocs snippets leave out required_providers; the copy declares it.
add_required_providers() {
  if ! grep -qs 'required_providers' "$TREE/$1"/*.tf && grep -Eqs 'rayvllm_|provider::rayvllm::|provider "rayvllm"' "$TREE/$1"/*.tf; then
    printf 'terraform {\n  required_providers {\n    rayvllm = {\n      source = "rayvllm/rayvllm"\n    }\n  }\n}\n' >"$TREE/$1/zz_required_providers.tf"
  fi
}

# Placeholders for the examples' required variables (what a user passes).
PLAN_VARS=(
  TF_VAR_hf_token=hf_placeholder
  TF_VAR_my_cidr=198.51.100.7/32
  TF_VAR_subnet_id=subnet-0123456789abcdef0
  TF_VAR_ami_id=ami-0123456789abcdef0
  TF_VAR_iam_instance_profile=rayvllm-node
  'TF_VAR_dashboard_ingress_cidrs=["198.51.100.7/32"]'
  TF_VAR_input_uri=s3://example-bucket/prompts/
  TF_VAR_output_uri=s3://example-bucket/answers/run-1
)

plan_dir() { # DIR (relative to the tree): init, plan, the plan as JSON in $WORK/plans
  local d=$1 cli out="$WORK/plan.log" j
  cli=$(cli_for "$TREE/$d")
  tf_init "$d" "$cli"
  if ! env "${PLAN_VARS[@]}" "$cli" -chdir="$TREE/$d" plan -input=false -lock=false -no-color -out="$WORK/plan.bin" >"$out" 2>&1; then
    cat "$out" >&2
    die "$(basename "$cli") plan failed in $d"
  fi
  j="$WORK/plans/$(echo "$d" | tr / _).json"
  "$cli" -chdir="$TREE/$d" show -json "$WORK/plan.bin" >"$j" || die "show -json failed in $d"
}

plan_examples() {
  need_terraform
  copy_tree
  mkdir -p "$WORK/plans" "$WORK/xdg"
  # The Hub, offline: the provider's cache (<cache>/rayvllm/hf/<org>/<name>/main/config.json).
  local f id n=0 skipped=0 snippets=0 notes=()
  for f in internal/hardware/hfconfig/testdata/configs/hub/*.json; do
    id=$(basename "$f" .json)
    case $id in *--*-explicit) continue ;; esac
    mkdir -p "$WORK/xdg/rayvllm/hf/${id%%--*}/${id#*--}/main"
    cp "$f" "$WORK/xdg/rayvllm/hf/${id%%--*}/${id#*--}/main/config.json"
  done
  local -x XDG_CACHE_HOME=$WORK/xdg HF_HUB_OFFLINE=1 # for this step only
  local d
  for d in $(find examples modules/*/examples -name '*.tf' -not -path '*/.terraform/*' -printf '%h\n' | sort -u); do
    add_required_providers "$d"
    if grep -qs '^ephemeral "rayvllm_cluster_token"' "$d"/*.tf; then
      if [ -z "${AWS_ENDPOINT_URL_SSM:-}" ]; then
        notes+=("$d skipped (reads its token from SSM: needs moto, AWS_ENDPOINT_URL_SSM; make test sets it)")
        skipped=$((skipped + 1))
        continue
      fi
      [ -x "$ROOT/.venv/bin/python" ] || die "$ROOT/.venv/bin/python not found: run make venv (boto3 talks to moto)"
      "$ROOT/.venv/bin/python" -c 'import boto3; boto3.client("ssm", region_name="us-east-1").put_parameter(Name="/rayvllm/prod-inference/ray-auth-token", Value="placeholder", Type="SecureString", Overwrite=True)' ||
        die "cannot put the token parameter into moto for $d"
      plan_dir "$d"
      "$ROOT/.venv/bin/python" -c 'import boto3; boto3.client("ssm", region_name="us-east-1").delete_parameter(Name="/rayvllm/prod-inference/ray-auth-token")' || true
    else
      plan_dir "$d"
    fi
    n=$((n + 1))
  done
  # README snippets: one directory each under the tree's snippets/.
  local list
  list=$(python3 - "$TREE" README.md modules/README.md modules/*/README.md <<'PY'
import os, re, sys
tree, files = sys.argv[1], sys.argv[2:]
src = re.compile(r'source\s*=\s*"git::https://github\.com/rayvllm/terraform-provider-rayvllm\.git//modules/([a-z0-9-]+)\?ref=[^"]*"')
for f in files:
    lines = open(f).read().split('\n')
    k, skip = 0, None
    i = 0
    while i < len(lines):
        m = re.match(r'<!-- snippet: not planned: (.+?) -->', lines[i].strip())
        if m:
            skip = m.group(1)
        if re.match(r'^```(hcl|terraform|tf)\s*$', lines[i]):
            j = i + 1
            while not lines[j].startswith('```'):
                j += 1
            k += 1
            name = f"{f.replace('/', '_').removesuffix('.md')}_{k}"
            if skip:
                print(f"SKIP {f} block {k}: {skip}")
            else:
                d = os.path.join(tree, 'snippets', name)
                os.makedirs(d, exist_ok=True)
                body = src.sub(lambda m: f'source = "../../modules/{m.group(1)}"', '\n'.join(lines[i + 1:j]))
                open(os.path.join(d, 'main.tf'), 'w').write(body + '\n')
                print(f"DIR snippets/{name} {f} block {k}")
            skip = None
            i = j
        elif lines[i].strip() and not m:
            skip = None
        i += 1
PY
  ) || die "cannot extract the README snippets"
  while read -r kind rest; do
    case $kind in
    SKIP) notes+=("$rest"); skipped=$((skipped + 1)) ;;
    DIR)
      d=${rest%% *}
      add_required_providers "$d"
      plan_dir "$d" || die "README ${rest#* } does not plan"
      snippets=$((snippets + 1))
      ;;
    esac
  done <<<"$list"
  for f in "${notes[@]}"; do say "plan: $f"; done
  say "terraform plan: $n example directories and $snippets README snippets ok, $skipped skipped"
  figures
}

# <!-- figures: DIR OUTPUT.PATH=VALUE ... --> in a README: DIR (relative to
# the README's folder) was planned by plan_examples; the output at PATH,
# rounded to VALUE's decimals, must be VALUE, and VALUE must appear in the
# paragraph after the comment.
figures() {
  python3 - "$WORK/plans" README.md modules/README.md modules/*/README.md <<'PY'
import json, os, re, sys
plans, files = sys.argv[1], sys.argv[2:]
bad, n = [], 0
for f in files:
    text = open(f).read()
    for m in re.finditer(r'<!-- figures: (\S+) ((?:\S+=\S+\s*)+)-->\n', text):
        d = os.path.normpath(os.path.join(os.path.dirname(f), m.group(1)))
        pj = os.path.join(plans, d.replace('/', '_') + '.json')
        if not os.path.exists(pj):
            bad.append(f'{f}: {d} was not planned'); continue
        outputs = json.load(open(pj))['planned_values'].get('outputs', {})
        para = text[m.end():].split('\n\n', 1)[0]
        for pair in m.group(2).split():
            path, want = pair.split('=')
            n += 1
            name, *keys = path.split('.')
            v = outputs.get(name, {}).get('value')
            for k in keys:
                v = v.get(k) if isinstance(v, dict) else None
            if not isinstance(v, (int, float)):
                bad.append(f'{f}: {d} has no number at output {path}'); continue
            digits = len(want.split('.')[1]) if '.' in want else 0
            got = f'{v:.{digits}f}'
            if got != want:
                bad.append(f'{f}: {path} is {got} by the plan of {d}, the README says {want}')
            if want not in para:
                bad.append(f'{f}: {want} ({path}) is not quoted in the paragraph after its figures comment')
if bad:
    print('\n'.join('modules-check: ' + b for b in bad), file=sys.stderr)
    sys.exit(1)
print(f'modules-check: {n} figures quoted in READMEs match their plans')
PY
}

tf_test() {
  need_terraform
  local d out passed=0 failed=0 p f
  for d in $(module_dirs); do
    compgen -G "$d/tests/*.tftest.hcl" >/dev/null || die "$d has no tests/*.tftest.hcl"
    tf_init "$d"
    out="$WORK/test.log"
    if ! "$TERRAFORM" -chdir="$TREE/$d" test -no-color >"$out" 2>&1; then
      cat "$out" >&2
      die "$CLI test failed in $d"
    fi
    grep -E '^(Success|Failure)!' "$out" | sed "s|^|modules-check: $d: |"
    p=$(sed -nE 's/^Success! ([0-9]+) passed, ([0-9]+) failed.*/\1/p' "$out")
    f=$(sed -nE 's/^Success! ([0-9]+) passed, ([0-9]+) failed.*/\2/p' "$out")
    [ -n "$p" ] && [ "$p" -gt 0 ] || { cat "$out" >&2; die "terraform test ran no test in $d"; }
    passed=$((passed + p)); failed=$((failed + f))
    if [ -d "$d/tests/services" ]; then
      services_test "$d"
      passed=$((passed + SERVICES_PASSED))
    fi
  done
  say "$CLI test ($("$TERRAFORM" version 2>/dev/null | awk '/^(Terraform|OpenTofu) v/ && !n { print; n = 1 }')): $passed runs passed, $failed failed"
}

# Apply-level tests in DIR/tests/services against the services of
# .ci/services.sh: moto (EC2, SSM, IAM) and the local Ray. What the test needs
# from them comes in as TF_VAR_*: a unique name, an AMI, a default subnet and
# an instance profile made in moto, the Ray dashboard, a 3-row prompts file
# and an output directory. Afterwards nothing may be left in moto (live
# instances, security group, token parameter) or on Ray (jobs of the stack),
# and the job must have written one answer per prompt.
SERVICES_PASSED=0
services_test() {
  local d=$1 out="$WORK/services.log" py=$ROOT/.venv/bin/python fixtures p
  SERVICES_PASSED=0
  if [ -z "${RAY_ADDRESS:-}" ] || [ -z "${AWS_ENDPOINT_URL_EC2:-}" ]; then
    say "$d: skipped tests/services (apply-level: needs RAY_ADDRESS and AWS_ENDPOINT_URL_EC2; run make test, or .ci/services.sh start and source .tmp/services.env)"
    return 0
  fi
  [ -x "$py" ] || die "$py not found: run make venv (boto3 talks to moto)"
  local name data="$WORK/services-data"
  name="mc-$(basename "$d")-$$-$RANDOM"
  name=${name:0:63}
  mkdir -p "$data"
  printf '%s\n' '{"id": "a", "prompt": "one two three four"}' '{"id": "b", "prompt": "one two three four five"}' \
    '{"id": "c", "prompt": "one two three four five six"}' >"$data/prompts.jsonl"
  fixtures=$("$py" - setup "$name" <<'PY'
import os, sys, boto3
_, _, name = sys.argv
aws = boto3.session.Session(region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
ec2 = aws.client("ec2")
ami = ec2.describe_images(Filters=[{"Name": "root-device-type", "Values": ["ebs"]}])["Images"][0]["ImageId"]
subnet = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"][0]["SubnetId"]
iam = aws.client("iam", endpoint_url=os.environ.get("RAYVLLM_TEST_MOTO_URL") or os.environ["AWS_ENDPOINT_URL_EC2"])
iam.create_instance_profile(InstanceProfileName=name)
print(f"TF_VAR_ami_id={ami} TF_VAR_subnet_id={subnet} TF_VAR_iam_instance_profile={name}")
PY
  ) || die "$d: cannot prepare moto for tests/services"
  # shellcheck disable=SC2086
  if ! env $fixtures TF_VAR_name="$name" TF_VAR_ray_dashboard_url="$RAY_ADDRESS" \
    TF_VAR_input_uri="$data/prompts.jsonl" TF_VAR_output_uri="$data/out" \
    "$TERRAFORM" -chdir="$TREE/$d" test -test-directory=tests/services -no-color >"$out" 2>&1; then
    cat "$out" >&2
    die "$CLI test -test-directory=tests/services failed in $d"
  fi
  grep -E '^(Success|Failure)!' "$out" | sed "s|^|modules-check: $d (services): |"
  p=$(sed -nE 's/^Success! ([0-9]+) passed, 0 failed.*/\1/p' "$out")
  [ -n "$p" ] && [ "$p" -gt 0 ] || { cat "$out" >&2; die "terraform test ran no test in $d/tests/services"; }
  "$py" - verify "$name" "$data" <<'PY' || die "$d: destroy left something behind, or the job's output is wrong"
import json, os, sys, urllib.request, boto3
_, _, name, data = sys.argv
bad = []
aws = boto3.session.Session(region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
ec2 = aws.client("ec2")
tag = [{"Name": "tag:rayvllm:cluster", "Values": [name]}]
live = [i["InstanceId"] for r in ec2.describe_instances(Filters=tag)["Reservations"] for i in r["Instances"]
        if i["State"]["Name"] != "terminated"]
if live:
    bad.append(f"instances not terminated: {live}")
sgs = [g["GroupId"] for g in ec2.describe_security_groups(Filters=tag)["SecurityGroups"]]
if sgs:
    bad.append(f"security groups left: {sgs}")
ssm = aws.client("ssm")
try:
    ssm.get_parameter(Name=f"/rayvllm/{name}/ray-auth-token")
    bad.append("the Ray token parameter is left")
except ssm.exceptions.ParameterNotFound:
    pass
req = urllib.request.Request(os.environ["RAY_ADDRESS"].rstrip("/") + "/api/jobs/",
                             headers={"Authorization": "Bearer " + os.environ.get("RAY_AUTH_TOKEN", "")})
jobs = [j.get("submission_id") for j in json.load(urllib.request.urlopen(req, timeout=30))
        if (j.get("metadata") or {}).get("stack") == name]
if jobs:
    bad.append(f"Ray jobs left: {jobs}")
rows = [json.loads(l) for l in open(os.path.join(data, "out", "part-00000.jsonl")) if l.strip()]
want = {"a": "four three two one", "b": "five four three two one", "c": "six five four three two one"}
if {r["id"]: r["generated_text"] for r in rows} != want:
    bad.append(f"the job's output is not one answer per prompt: {rows}")
aws.client("iam", endpoint_url=os.environ.get("RAYVLLM_TEST_MOTO_URL") or os.environ["AWS_ENDPOINT_URL_EC2"]).delete_instance_profile(InstanceProfileName=name)
if bad:
    print("\n".join("modules-check: " + b for b in bad), file=sys.stderr)
    sys.exit(1)
print(f"modules-check: after destroy nothing of {name} is left in moto or on Ray; the job answered all {len(rows)} prompts")
PY
  SERVICES_PASSED=$p
}

# ---------------------------------------------------------------------------
ensure_promtool() {
  command -v promtool >/dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing promtool (Debian package prometheus)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  fi
  command -v promtool >/dev/null || die "promtool not found: apt-get install prometheus"
}

# Renders a root module's outputs into files: render DIR NAME=OUTPUT...
render() {
  local dir=$1 pair
  shift
  tf_init "$dir"
  "$TERRAFORM" -chdir="$TREE/$dir" apply -auto-approve -input=false -no-color >"$WORK/apply.log" 2>&1 ||
    { cat "$WORK/apply.log" >&2; die "terraform apply failed in $dir"; }
  for pair in "$@"; do
    "$TERRAFORM" -chdir="$TREE/$dir" output -no-color -raw "${pair#*=}" >"$WORK/promtool/${pair%%=*}"
  done
}

promtool_check() {
  need_terraform
  ensure_promtool
  local mon=modules/monitoring
  [ -d "$mon" ] || die "$mon not found"
  mkdir -p "$WORK/promtool"
  render "$mon/tests/promtool" rules_vllm.yml=rules_vllm rules_ray.yml=rules_ray dashboard_vllm.json=dashboard_vllm dashboard_ray.json=dashboard_ray
  render "$mon/examples/basic" example_basic.yml=rules_yaml example_basic.json=dashboard_json
  render "$mon/examples/from-sizing" example_from_sizing.yml=rules_yaml example_from_sizing.json=dashboard_json
  (cd "$WORK/promtool" && promtool check rules rules_vllm.yml rules_ray.yml example_basic.yml example_from_sizing.yml) ||
    die "promtool check rules failed"
  cp "$mon"/tests/promtool/*_test.yml "$WORK/promtool/"
  (cd "$WORK/promtool" && promtool test rules ./*_test.yml) || die "promtool test rules failed"

  python3 - "$mon/vllm_metrics.txt" "$WORK"/promtool/*.yml "$WORK"/promtool/*.json <<'PY'
import re, sys

listing, files = sys.argv[1], [f for f in sys.argv[2:] if not f.endswith('_test.yml')]
suffixes = {'gauge': [''], 'counter': ['_total', '_created'], 'histogram': ['_bucket', '_sum', '_count']}
known = {}
for line in open(listing):
    line = line.strip()
    if not line or line.startswith('#'):
        continue
    name, kind = line.split()
    for s in suffixes[kind]:
        known[name + s] = name
        known['ray_' + re.sub(r'[^a-zA-Z0-9_]', '_', name) + s] = name  # Ray's export
bad, seen = [], set()
texts = {f: open(f).read() for f in files}
recorded = set()
for t in texts.values():
    recorded |= set(re.findall(r'"record":\s*"([^"]+)"', t))
for f, text in texts.items():
    short = f.rsplit('/', 1)[-1]
    for n in re.findall(r'(?<![A-Za-z0-9_:])(vllm:[A-Za-z0-9_:]+|ray_vllm_[A-Za-z0-9_]+)', text):
        seen.add(n)
        if n not in known:
            bad.append(f'{short}: {n} is not a vLLM metric (not in {listing})')
    for n in re.findall(r'(?<![A-Za-z0-9_:])(rayvllm:[a-z0-9_:]+)', text):
        if n not in recorded:
            bad.append(f'{short}: {n} is read but no rule records it')
if not seen:
    bad.append('no vLLM metric found in the rendered rules: the check would be vacuous')
if bad:
    print('\n'.join('modules-check: ' + b for b in sorted(set(bad))), file=sys.stderr)
    sys.exit(1)
print(f'modules-check: {len(seen)} distinct vLLM series read by the rules and dashboards, all in {listing}')
PY
  say "promtool: ok"
}

# ---------------------------------------------------------------------------
[ $# -gt 0 ] || set -- all
for step in "$@"; do
  case $step in
  all) readme && fmt_check && validate && plan_examples && tf_test && promtool_check ;;
  readme) readme ;;
  readme-write) readme write ;;
  fmt) fmt_check ;;
  validate) validate ;;
  plan) plan_examples ;;
  test) tf_test ;;
  promtool) promtool_check ;;
  *) die "unknown step '$step' (all, readme, readme-write, fmt, validate, plan, test, promtool)" ;;
  esac
done
say "passed: $*"
