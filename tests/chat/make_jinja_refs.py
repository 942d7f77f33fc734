#!/usr/bin/env python3
"""Regenerates jinja-refs.json: small templates, one language feature each, rendered by jinja2 the way
transformers' apply_chat_template sets it up (sandboxed, trim_blocks, lstrip_blocks, loopcontrols,
json.dumps-based tojson, raise_exception, strftime_now pinned to 2026-11-22).

Usage: python3 tests/chat/make_jinja_refs.py > tests/chat/data/jinja-refs.json
"""
import json
import sys
from datetime import datetime

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    return datetime(2026, 11, 22).strftime(fmt)


def make_env(sandboxed=True):
    cls = ImmutableSandboxedEnvironment if sandboxed else jinja2.Environment
    env = cls(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


MSGS = [
    {"role": "system", "content": "  You are terse.  "},
    {"role": "user", "content": "Hello"},
    {"role": "assistant", "content": "Hi there", "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]},
    {"role": "user", "content": "Bye"},
]

# (feature, template, context); list.append needs the non-immutable environment (the engine allows it).
CASES = [
    # output, literals, comments
    ("text", "plain text only", {}),
    ("output", "{{ 'a' }}{{ \"b\" }}{{ 1 }}{{ 1.5 }}{{ true }}{{ none }}{{ [1, 'x', none] }}{{ {'k': 'v'} }}", {}),
    ("floats", "{{ 2.0 }} {{ 1e20 }} {{ 0.1 + 0.2 }} {{ 1/3 }} {{ 0.0001 }} {{ 0.00001 }} {{ -2.5e-7 }}", {}),
    ("string_escapes", "{{ 'a\\nb\\tc\\\\d\\'e' }}|{{ \"\\u00e9\\x41\" }}", {}),
    ("adjacent_strings", "{{ 'a' 'b' \"c\" }}", {}),
    ("comment", "a{# comment #}b{#- strip -#}  c", {}),
    ("repr_quotes", "{{ [\"it's\", 'say \"hi\"', 'both \\' \"'] }}", {}),
    # whitespace control
    ("ws_minus", "a  {{- 'b' -}}  c\n  {%- if true -%}  d  {%- endif -%}  e", {}),
    ("ws_trim_blocks", "{% if true %}\nline\n{% endif %}\nafter", {}),
    ("ws_lstrip_blocks", "  {% if true %}\n    x\n  {% endif %}\n  y", {}),
    ("ws_plus", "  {%+ if true %}\nx{% endif +%}\ny", {}),
    ("ws_var_not_lstripped", "  {{ 'x' }}\n  {# c #}\n", {}),
    ("ws_trailing_newline", "abc\n", {}),
    ("ws_crlf", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc", {}),
    ("ws_comment_trim", "a\n  {# note #}\nb", {}),
    ("ws_inline_block", "x {% if true %}y{% endif %} z\n", {}),
    # arithmetic and operators
    ("arith", "{{ 7 + 2 }} {{ 7 - 2 }} {{ 7 * 2 }} {{ 7 / 2 }} {{ 7 // 2 }} {{ 7 % 2 }} {{ 2 ** 10 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7.5 // 2 }} {{ 2 ** -1 }}", {}),
    ("precedence", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }} {{ 10 - 2 - 3 }}", {}),
    ("concat", "{{ 'a' ~ 1 ~ none ~ true ~ undefined_var }}|{{ 'x' + 'y' }}|{{ [1] + [2, 3] }}|{{ 'ab' * 3 }}", {}),
    ("compare", "{{ 1 < 2 }} {{ 2 <= 1 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ true == 1 }} {{ [1, 2] == [1, 2] }} {{ {'a': 1} == {'a': 1} }} {{ 'a' != 'b' }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }}", {}),
    ("logic", "{{ true and 'x' }} {{ false or 'y' }} {{ not 0 }} {{ 0 or '' or 'z' }} {{ 1 and 0 }} {{ not x is defined }}", {}),
    ("in_operator", "{{ 'ell' in 'hello' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'z' not in 'abc' }} {{ 3 not in [1] }}", {}),
    ("ternary", "{{ 'yes' if flag else 'no' }}|{{ 'yes' if not flag else 'no' }}|{{ 'only' if false }}|{{ 1 if false else 2 if true else 3 }}", {"flag": True}),
    ("filter_precedence", "{{ 'a' + '  b  ' | trim + 'c' }}|{{ -3 | abs }}|{{ 'x' ~ [1, 2] | length }}", {}),
    # attribute and item access
    ("access", "{{ m.role }} {{ m['content'] }} {{ m.missing }}|{{ l[0] }} {{ l[-1] }} {{ l[5] }}|{{ l.0 }}|{{ s[1] }} {{ s[-1] }}", {"m": {"role": "user", "content": "hi"}, "l": [10, 20, 30], "s": "héllo"}),
    ("slicing", "{{ l[1:] }} {{ l[:2] }} {{ l[::-1] }} {{ l[::2] }} {{ l[-2:] }} {{ l[5:] }} {{ l[1:-1] }} {{ l[3:0:-1] }}", {"l": [0, 1, 2, 3, 4]}),
    ("string_slicing", "{{ s[::-1] }} {{ s[1:4] }} {{ s[:-1] }} {{ s[-3:] }} {{ '{\"a\": 1}'[:-1] }}", {"s": "naïve café"}),
    # statements
    ("if_elif_else", "{% for x in [1, 2, 3, 4] %}{% if x == 1 %}one{% elif x == 2 %}two{% elif x is odd %}odd{% else %}other{% endif %},{% endfor %}", {}),
    ("for_loop_vars", "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}", {}),
    ("for_prev_next", "{% for x in [1, 2, 3] %}{{ loop.previtem }}<{{ x }}>{{ loop.nextitem }};{% endfor %}", {}),
    ("for_filter", "{% for x in range(10) if x is even %}{{ x }}{{ ',' if not loop.last }}{% endfor %} {% for x in [] %}x{% else %}empty{% endfor %}", {}),
    ("for_unpack", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k, v in d | dictsort %}{{ k }}{% endfor %}{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}", {"d": {"b": 2, "a": 1}}),
    ("for_dict_keys", "{% for k in d %}{{ k }}{% endfor %}", {"d": {"x": 1, "y": 2}}),
    ("for_nested_loop", "{% for a in [1, 2] %}{% for b in 'xy' %}{{ loop.index }}{{ b }}{% endfor %}{{ loop.index }};{% endfor %}", {}),
    ("for_cycle", "{% for x in range(5) %}{{ loop.cycle('a', 'b') }}{% endfor %}", {}),
    ("break_continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("for_over_undefined", "[{% for x in nothing %}{{ x }}{% endfor %}]", {}),
    ("set_scoping", "{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + 10 %}{{ x }},{% endfor %}{{ x }}{% if true %}{% set x = 5 %}{% endif %}{{ x }}", {}),
    ("set_tuple", "{% set a, b = [1, 2] %}{{ a }}{{ b }}{% set c = 1, 2 %}{{ c | length }}", {}),
    ("set_block", "{% set block %}  Hello {{ name }}  {% endset %}[{{ block }}]{% set up | upper %}abc{% endset %}{{ up }}", {"name": "World"}),
    ("namespace", "{% set ns = namespace(count=0, found=false) %}{% for m in messages %}{% if m.role == 'user' %}{% set ns.count = ns.count + 1 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.count }} {{ ns.found }}", {"messages": MSGS}),
    ("namespace_last_index", "{% set ns = namespace(last=-1) %}{% for m in messages %}{% if m.role == 'user' %}{% set ns.last = loop.index0 %}{% endif %}{% endfor %}{{ ns.last }}", {"messages": MSGS}),
    ("macro", "{% macro greet(name, greeting='Hello', punct='!') %}{{ greeting }}, {{ name }}{{ punct }}{% endmacro %}{{ greet('Anna') }} {{ greet('Pierre', 'Bonjour') }} {{ greet('Natasha', punct='?') }}", {}),
    ("macro_recursive", "{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1) | int }}{% endif %}{% endmacro %}{{ fact(6) }}", {}),
    ("macro_sees_globals", "{% set sep = '/' %}{% macro j(a, b) %}{{ a }}{{ sep }}{{ b }}{% endmacro %}{{ j(1, 2) }}", {}),
    ("call_block", "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold {{ 1 + 1 }}{% endcall %}", {}),
    ("filter_block", "{% filter upper %}shout {{ 'this' }}{% endfilter %}", {}),
    ("raw_block", "{% raw %}{{ not evaluated }}{% endraw %}", {}),
    ("with_block", "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a }}", {}),
    # filters
    ("f_trim", "[{{ '  a b \\n' | trim }}][{{ 'xxaxx' | trim('x') }}][{{ undefined_thing | trim }}]", {}),
    ("f_tojson", "{{ v | tojson }}|{{ v | tojson(indent=2) }}|{{ 'é\"\\n' | tojson }}|{{ {'b': 1, 'a': [1.5, none, true]} | tojson(sort_keys=true) }}|{{ [] | tojson(indent=4) }}|{{ {} | tojson }}", {"v": {"name": "get_weather", "params": {"city": "Moscow", "days": 3, "tags": ["a", "b"], "x": None}}}),
    ("f_tojson_ascii", "{{ 'naïve ☃ 😀' | tojson(ensure_ascii=true) }}|{{ 'naïve' | tojson }}", {}),
    ("f_length", "{{ 'héllo' | length }} {{ [1, 2] | length }} {{ {'a': 1} | count }} {{ nothing | length }}", {}),
    ("f_case", "{{ 'Hello World' | lower }} {{ 'Hello World' | upper }} {{ 'hello WORLD' | capitalize }} {{ 'hello wORLD-x (y)' | title }}", {}),
    ("f_first_last", "{{ [1, 2, 3] | first }} {{ [1, 2, 3] | last }} {{ 'abc' | first }} {{ 'abc' | last }} [{{ [] | first }}]", {}),
    ("f_join", "{{ [1, 2, 3] | join(', ') }} {{ ['a', 'b'] | join }} {{ users | join('|', attribute='name') }}", {"users": [{"name": "Anna"}, {"name": "Boris"}]}),
    ("f_default", "{{ missing | default('dflt') }} {{ '' | default('empty') }} {{ '' | default('empty', true) }} {{ none | d('n') }} {{ 0 | default(5, boolean=true) }}", {}),
    ("f_replace", "{{ 'aaa' | replace('a', 'b') }} {{ 'aaa' | replace('a', 'b', 2) }} {{ 'abc' | replace('', '-') }}", {}),
    ("f_list_string", "{{ 'abc' | list }} {{ {'a': 1, 'b': 2} | list }} {{ 12 | string }} {{ [1, 'a'] | string }}", {}),
    ("f_int_float", "{{ '42' | int }} {{ '3.9' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ 3.9 | int }} {{ '2.5' | float }} {{ 3 | float }} {{ 'ff' | int(base=16) }} {{ true | int }}", {}),
    ("f_abs_round", "{{ -3 | abs }} {{ -2.5 | abs }} {{ 2.5 | round }} {{ 3.5 | round }} {{ 2.675 | round(1) }} {{ 2.1 | round(0, 'ceil') }} {{ 2.9 | round(method='floor') }} {{ 7 | round }}", {}),
    ("f_items_dictsort", "{% for k, v in d | items %}{{ k }}{{ v }}{% endfor %} {{ d | dictsort | map('join', ':') | join(',') }} {{ d | dictsort(by='value') | map('join', ':') | join(',') }} {{ d | dictsort(reverse=true) | map('join', ':') | join(',') }} {{ d | dictsort(true) | map('first') | join }}", {"d": {"b": 1, "a": 3, "C": 2}}),
    ("f_selectattr", "{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }} {{ messages | rejectattr('role', 'eq', 'user') | list | length }} {{ messages | selectattr('tool_calls', 'defined') | list | length }} {{ messages | selectattr('tool_calls') | list | length }}", {"messages": MSGS}),
    ("f_select_reject", "{{ range(10) | select('odd') | list }} {{ range(10) | reject('divisibleby', 3) | list }} {{ [0, 1, '', 'a', none] | select | list }}", {}),
    ("f_map", "{{ ['a', 'b'] | map('upper') | join }} {{ [1.5, 2.5] | map('int') | list }} {{ users | map(attribute='age', default=0) | list }} {{ ['x', 'y'] | map('replace', 'x', 'z') | list }}", {"users": [{"age": 3}, {}]}),
    ("f_unique_reverse_sort", "{{ [3, 1, 3, 2, 1] | unique | list }} {{ ['a', 'A', 'b'] | unique | list }} {{ [1, 2, 3] | reverse | list }} {{ 'abc' | reverse }} {{ [3, 1, 2] | sort }} {{ ['b', 'A', 'c'] | sort }} {{ ['b', 'A', 'c'] | sort(case_sensitive=true) }} {{ [3, 1, 2] | sort(reverse=true) }}", {}),
    ("f_sort_attribute", "{{ users | sort(attribute='age') | map(attribute='name') | join(',') }}", {"users": [{"name": "a", "age": 30}, {"name": "b", "age": 20}, {"name": "c", "age": 25}]}),
    ("f_safe_string", "{{ '<b>' | safe }} {{ '<a href=\"x\">&' | escape }}", {}),
    ("f_indent", "[{{ 'a\\nb\\n\\nc' | indent }}][{{ 'a\\nb' | indent(2, true) }}][{{ 'a\\n\\nb' | indent(2, blank=true) }}][{{ 'x\\ny' | indent('--') }}]", {}),
    ("f_wordcount_minmax_sum", "{{ 'Hello, world! How are you?' | wordcount }} {{ [3, 1, 2] | min }} {{ [3, 1, 2] | max }} {{ [1, 2, 3] | sum }} {{ users | sum(attribute='n') }}", {"users": [{"n": 1}, {"n": 4}]}),
    ("f_format", "{{ '%s is %d years' | format('Anna', 20) }} {{ '100%%' | format }}", {}),
    ("percent_operator", "{{ 'Hello %s' % 'Anna' }} {{ '%s-%s' % ('a', 'b') }} {{ '%d%%' % 50 }}", {}),
    ("e_tojson_undefined", "{{ missing | tojson }}", {}),
    ("f_center_attr", "[{{ 'ab' | center(6) }}] {{ d | attr('k') }}", {"d": {"k": "v"}}),
    # tests
    ("t_types", "{{ 'a' is string }}{{ 1 is string }}{{ 1 is number }}{{ 1.5 is number }}{{ true is number }}{{ 1 is integer }}{{ 1.0 is integer }}{{ 1.0 is float }}{{ {} is mapping }}{{ [] is mapping }}{{ 'a' is iterable }}{{ 1 is iterable }}{{ [] is sequence }}{{ true is boolean }}{{ 1 is boolean }}", {}),
    ("t_defined", "{{ x is defined }}{{ y is defined }}{{ y is undefined }}{{ z is none }}{{ x is not none }}{{ x.a is defined }}{{ x.b is defined }}", {"x": {"a": 1}, "z": None}),
    ("t_true_false", "{{ true is true }}{{ 1 is true }}{{ false is false }}{{ 0 is false }}{{ none is none }}", {}),
    ("t_compare", "{{ 2 is equalto 2 }}{{ 'a' is eq 'b' }}{{ 3 is divisibleby 3 }}{{ 4 is divisibleby(3) }}{{ 3 is odd }}{{ 4 is even }}{{ 2 is in [1, 2] }}{{ 'x' is in 'xyz' }}{{ 5 is gt 3 }}{{ 5 is lt 3 }}{{ 2 is ne 2 }}", {}),
    # methods
    ("m_string", "[{{ '  x  '.strip() }}][{{ '  x  '.lstrip() }}][{{ '  x  '.rstrip() }}][{{ 'xxhixx'.strip('x') }}][{{ '\\n\\nhi'.lstrip('\\n') }}]", {}),
    ("m_string2", "{{ 'hello'.startswith('he') }}{{ 'hello'.endswith('lo') }}{{ 'hello'.startswith(('x', 'h')) }}{{ 'a,b,,c'.split(',') }}{{ ' a  b '.split() }}{{ 'a b c'.split(' ', 1) }}{{ 'a-b-c'.rsplit('-', 1) }}", {}),
    ("m_string3", "{{ 'aXa'.replace('a', 'b') }} {{ 'Hello'.lower() }} {{ 'Hello'.upper() }} {{ 'hello world'.title() }} {{ 'hELLO'.capitalize() }} {{ 'abcb'.find('b') }} {{ 'abcb'.count('b') }} {{ ', '.join(['a', 'b']) }}", {}),
    ("m_string_format", "{{ '{} and {}'.format('a', 'b') }} {{ '{1}{0}'.format('x', 'y') }} {{ '{n}!'.format(n=3) }}", {}),
    ("m_dict", "{{ d.keys() | list }} {{ d.values() | list }} {{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 'dflt') }} {{ d.items() | map('join', '=') | list }}", {"d": {"a": 1, "b": 2}}),
    # globals
    ("g_range", "{{ range(3) | list }} {{ range(1, 4) | list }} {{ range(10, 0, -3) | list }} {{ range(0) | list }}", {}),
    ("g_dict", "{{ dict(a=1, b='x') }} {{ dict(a=1).a }}", {}),
    ("g_strftime", "{{ strftime_now('%Y-%m-%d') }} {{ strftime_now('%d %b %Y') }} {{ strftime_now('%A %B %j') }}", {}),
    # chat-shaped templates
    ("chat_loop", "{{ bos_token }}{% for m in messages %}{% if m.role == 'system' %}<<SYS>>{{ m.content | trim }}<</SYS>>\n{% else %}[{{ m.role | upper }}] {{ m.content }}\n{% endif %}{% endfor %}{% if add_generation_prompt %}[ASSISTANT]{% endif %}", {"messages": MSGS, "bos_token": "<s>", "add_generation_prompt": True}),
    ("chat_tool_calls", "{% for m in messages %}{% if m.tool_calls is defined %}{% for tc in m.tool_calls %}{{ tc.function.name }}({{ tc.function.arguments | tojson }}){% endfor %}{% endif %}{% endfor %}", {"messages": MSGS}),
    ("chat_system_split", "{% if messages[0]['role'] == 'system' %}{% set sys = messages[0]['content'] %}{% set loop_messages = messages[1:] %}{% else %}{% set loop_messages = messages %}{% endif %}{{ sys | trim }}|{{ loop_messages | length }}|{{ loop_messages[0].role }}", {"messages": MSGS}),
    # errors (jinja2 raises; so must we)
    ("e_raise", "{{ raise_exception('Custom message: ' ~ 42) }}", {}),
    ("e_add_undefined", "{{ missing + 1 }}", {}),
    ("e_type", "{{ 'a' + 1 }}", {}),
    ("e_iterate_none", "{% for x in none_value %}{% endfor %}", {"none_value": None}),
    ("e_call_undefined", "{{ nothing() }}", {}),
    ("e_div_zero", "{{ 1 / 0 }}", {}),
    ("e_syntax", "{% if %}", {}),
    ("e_unclosed", "{% for x in y %}", {}),
    ("e_unknown_filter", "{{ 1 | no_such_filter }}", {}),
    ("e_unknown_tag", "{% frobnicate %}", {}),
    ("e_namespace_assign", "{% set d = {} %}{% set d.x = 1 %}", {}),
    ("e_compare_types", "{{ 1 < 'a' }}", {}),
]

LENIENT = [
    ("append_namespace_list", "{% set ns = namespace(parts=[]) %}{% for m in messages %}{% set _ = ns.parts.append(m.role) %}{% endfor %}{{ ns.parts | join(',') }}", {"messages": MSGS}),
]


def render(env, template, context):
    try:
        return {"expected": env.from_string(template).render(**context)}
    except Exception as e:  # noqa: BLE001 - any jinja2 or Python error is a reference error
        return {"error": f"{type(e).__name__}: {e}"}


def main():
    out = []
    for sandboxed, cases in ((True, CASES), (False, LENIENT)):
        env = make_env(sandboxed)
        for name, template, context in cases:
            case = {"name": name, "template": template, "context": context}
            case.update(render(env, template, context))
            out.append(case)
    json.dump({"generator": "tests/chat/make_jinja_refs.py", "jinja2": jinja2.__version__, "cases": out},
              sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__" and "--tools" not in sys.argv:
    main()


# Tool-use conversations through the seven reference chat templates of ../shared (which the
# reference file renders only without tools). Usage: make_jinja_refs.py --tools > data/chat-tool-refs.json
TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Get the weather for a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "The city name"},
            "days": {"type": "integer", "description": "Number of days"},
            "units": {"type": ["string", "null"], "description": "  celsius or fahrenheit  "}},
            "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "search", "description": "Search the web.",
        "parameters": {"type": "object", "properties": {
            "query": {"type": "string", "description": "Query"},
            "tags": {"type": "array", "items": {"type": "string"}, "description": "Tags"}}}}},
]

# Hermes' template recurses without end on array-typed and union-typed parameters: this set has neither.
TOOLS_SIMPLE = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Get the weather for a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "The city name"},
            "days": {"type": "integer", "description": "Number of days"},
            "options": {"type": "object", "additionalProperties": {"type": "boolean"}, "description": "Flags"}},
            "required": ["city"]}}},
]

TOOL_CONVERSATIONS = [
    [{"role": "user", "content": "Weather in Moscow?"}],
    [{"role": "system", "content": "You are helpful."},
     {"role": "user", "content": "Weather in Moscow?"},
     {"role": "assistant", "content": "", "tool_calls": [
         {"id": "call12345", "type": "function",
          "function": {"name": "get_weather", "arguments": {"city": "Moscow", "days": 2}}}]},
     {"role": "tool", "tool_call_id": "call12345", "content": "{\"temp\": -5}"},
     {"role": "assistant", "content": "It is -5 degrees."},
     {"role": "user", "content": "Thanks! Ещё?"}],
]


def tool_refs(shared_refs):
    env = make_env(True)
    with open(shared_refs) as f:
        templates = json.load(f)["templates"]
    out = []
    for t in templates:
        compiled = env.from_string(t["source"])
        for tools, messages in [(tools, m) for tools in (TOOLS, TOOLS_SIMPLE) for m in TOOL_CONVERSATIONS]:
            for agp in (True, False):
                case = {"template": t["template"], "messages": messages, "tools": tools,
                        "add_generation_prompt": agp, "bos_token": "<s>", "eos_token": "</s>"}
                try:
                    case["expected"] = compiled.render(messages=messages, tools=tools, documents=None,
                                                       add_generation_prompt=agp, bos_token="<s>",
                                                       eos_token="</s>")
                except Exception as e:  # noqa: BLE001
                    case["error"] = f"{type(e).__name__}: {e}"
                out.append(case)
    return out


if __name__ == "__main__" and "--tools" in sys.argv:
    import os
    refs = os.path.join(os.path.dirname(__file__), "../../../shared/tokenizers/chat-template-refs.json")
    json.dump({"generator": "tests/chat/make_jinja_refs.py --tools", "jinja2": jinja2.__version__,
               "cases": tool_refs(refs)}, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")
