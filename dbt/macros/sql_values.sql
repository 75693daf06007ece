{#- A list of strings as a parenthesized SQL list of quoted literals: ('detail', 'add'). -#}
{% macro sql_string_list(values) -%}
  ({% for value in values %}'{{ value | replace("'", "''") }}'{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}
