{#- An array of `expression` ordered by `order_by`: DuckDB writes it `list(... order by ...)`,
    Snowflake `array_agg(...) within group (order by ...)`. -#}
{% macro array_agg_ordered(expression, order_by) -%}
  {{ adapter.dispatch('array_agg_ordered', 'mlops_session_recs')(expression, order_by) }}
{%- endmacro %}

{% macro default__array_agg_ordered(expression, order_by) -%}
  array_agg({{ expression }} order by {{ order_by }})
{%- endmacro %}

{% macro duckdb__array_agg_ordered(expression, order_by) -%}
  list({{ expression }} order by {{ order_by }})
{%- endmacro %}

{% macro snowflake__array_agg_ordered(expression, order_by) -%}
  array_agg({{ expression }}) within group (order by {{ order_by }})
{%- endmacro %}
