{#- Epoch milliseconds (BIGINT) to a timestamp without time zone, and to its UTC date. -#}
{% macro epoch_ms_to_timestamp(column) -%}
  {{ adapter.dispatch('epoch_ms_to_timestamp', 'mlops_session_recs')(column) }}
{%- endmacro %}

{% macro default__epoch_ms_to_timestamp(column) -%}
  to_timestamp({{ column }} / 1000.0)
{%- endmacro %}

{% macro duckdb__epoch_ms_to_timestamp(column) -%}
  epoch_ms({{ column }})
{%- endmacro %}

{% macro snowflake__epoch_ms_to_timestamp(column) -%}
  to_timestamp_ntz({{ column }}, 3)
{%- endmacro %}

{% macro epoch_ms_to_date(column) -%}
  {{ adapter.dispatch('epoch_ms_to_date', 'mlops_session_recs')(column) }}
{%- endmacro %}

{% macro default__epoch_ms_to_date(column) -%}
  cast(to_timestamp({{ column }} / 1000.0) as date)
{%- endmacro %}

{% macro duckdb__epoch_ms_to_date(column) -%}
  cast(epoch_ms({{ column }}) as date)
{%- endmacro %}

{% macro snowflake__epoch_ms_to_date(column) -%}
  to_date(to_timestamp_ntz({{ column }}, 3))
{%- endmacro %}
