//! The player `filters` object. The emulator stores and echoes filters; the only one
//! with an effect on the model is `timescale`, which changes how fast the position
//! advances, as it does in lavaplayer.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Filters as sent in `PATCH .../players/{guildId}` and returned in a Player.
/// Unset filters are omitted from the output, as Lavalink does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filters {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub equalizer: Option<Vec<Band>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub karaoke: Option<Karaoke>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timescale: Option<Timescale>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tremolo: Option<Oscillation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vibrato: Option<Oscillation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation: Option<Rotation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distortion: Option<Distortion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_mix: Option<ChannelMix>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low_pass: Option<LowPass>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin_filters: Option<Map<String, Value>>,
}

impl Filters {
    /// How many milliseconds of track one millisecond of playback covers.
    pub fn playback_rate(&self) -> f64 {
        let Some(timescale) = &self.timescale else {
            return 1.0;
        };
        let factor = |value: Option<f64>| match value {
            Some(value) if value.is_finite() && value > 0.0 => value,
            _ => 1.0,
        };
        factor(timescale.speed) * factor(timescale.rate)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Band {
    pub band: i32,
    pub gain: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Karaoke {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mono_level: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_band: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_width: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timescale {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pitch: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
}

/// Tremolo and vibrato share a shape.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Oscillation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depth: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rotation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_hz: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Distortion {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sin_offset: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sin_scale: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cos_offset: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cos_scale: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tan_offset: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tan_scale: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelMix {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_to_left: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_to_right: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub right_to_left: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub right_to_right: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LowPass {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smoothing: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timescale_speed_and_rate_multiply_and_bad_values_are_ignored() {
        let filters: Filters =
            serde_json::from_str(r#"{"timescale":{"speed":1.5,"rate":2.0,"pitch":0.5}}"#)
                .expect("valid filters");
        assert_eq!(filters.playback_rate(), 3.0);
        let zero: Filters =
            serde_json::from_str(r#"{"timescale":{"speed":0}}"#).expect("valid filters");
        assert_eq!(zero.playback_rate(), 1.0);
        assert_eq!(Filters::default().playback_rate(), 1.0);
    }

    #[test]
    fn unset_filters_are_omitted() {
        let filters: Filters =
            serde_json::from_str(r#"{"volume":1,"pluginFilters":{"x":{"y":1}}}"#).expect("valid");
        assert_eq!(
            serde_json::to_string(&filters).expect("serialises"),
            r#"{"volume":1.0,"pluginFilters":{"x":{"y":1}}}"#
        );
    }
}
