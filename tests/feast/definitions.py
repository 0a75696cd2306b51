# A Feast mirror of quiver's example repo (feature_repo/): same names, types and sources.
import os
from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, PushSource, ValueType
from feast.types import Float32, Float64, Int64, String

DATA = os.environ["QUIVER_FEAST_DATA"]

driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.STRING)

driver_stats_source = FileSource(
    name="driver_stats_source",
    path=os.path.join(DATA, "driver_stats.parquet"),
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
)
driver_stats_push = PushSource(name="driver_stats_push", batch_source=driver_stats_source)
customer_profile_source = FileSource(
    name="customer_profile_source",
    path=os.path.join(DATA, "customer_profile.parquet"),
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
)

driver_hourly_stats = FeatureView(
    name="driver_hourly_stats",
    entities=[driver],
    ttl=timedelta(days=2),
    schema=[
        Field(name="conv_rate", dtype=Float32),
        Field(name="acc_rate", dtype=Float32),
        Field(name="avg_daily_trips", dtype=Int64),
    ],
    source=driver_stats_push,
)
customer_profile = FeatureView(
    name="customer_profile",
    entities=[customer],
    ttl=timedelta(days=7),
    schema=[
        Field(name="current_balance", dtype=Float64),
        Field(name="avg_passenger_count", dtype=Float32),
        Field(name="lifetime_trip_count", dtype=Int64),
        Field(name="segment", dtype=String),
    ],
    source=customer_profile_source,
)
driver_activity = FeatureService(
    name="driver_activity",
    features=[driver_hourly_stats[["conv_rate", "acc_rate"]]],
)
ride_ranking = FeatureService(
    name="ride_ranking",
    features=[driver_hourly_stats, customer_profile[["current_balance", "lifetime_trip_count"]]],
)
