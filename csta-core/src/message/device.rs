//! Device feature services (ECMA-269 clause 22): do not disturb, forwarding, message
//! waiting, speaker and microphone.

use heapless::Vec;

use crate::names::ForwardingType;
use crate::types::DeviceId;
use crate::xml::Text;

structure! {
    /// Ask whether do-not-disturb is on.
    pub struct GetDoNotDisturb<'a> {
        /// The device.
        device: DeviceId<'a> = "device",
    }
}

structure! {
    /// Whether do-not-disturb is on.
    pub struct GetDoNotDisturbResponse {
        /// On or off.
        do_not_disturb_on: bool = "doNotDisturbOn",
    }
}

structure! {
    /// Switch do-not-disturb on or off.
    pub struct SetDoNotDisturb<'a> {
        /// The device.
        device: DeviceId<'a> = "device",
        /// On or off.
        do_not_disturb_on: bool = "doNotDisturbOn",
    }
}

structure! {
    /// Do-not-disturb was set.
    pub struct SetDoNotDisturbResponse {}
}

structure! {
    /// Ask for the forwarding settings.
    pub struct GetForwarding<'a> {
        /// The device.
        device: DeviceId<'a> = "device",
    }
}

/// Capacity of a forwarding list: every forwarding type once.
pub const FORWARDING_LIST_MAX: usize = 12;

structure! {
    /// One forwarding setting.
    pub struct ForwardListItem<'a> {
        /// Which forwarding.
        forwarding_type: ForwardingType<'a> = "forwardingType",
        /// Whether it is on.
        forward_status: bool = "forwardStatus",
        /// Where calls go.
        forward_dn: Option<DeviceId<'a>> = "forwardDN",
        /// Whether `forward_dn` is the default destination.
        forward_default: Option<Text<'a>> = "forwardDefault",
        /// Rings before forwarding on no answer.
        ring_count: Option<u32> = "ringCount",
        /// Seconds before forwarding on no answer (ed5 and later, and vendors).
        ring_duration: Option<u32> = "ringDuration",
    }
}

structure! {
    /// The forwarding settings.
    pub struct ForwardingList<'a> {
        /// The settings, at most [`FORWARDING_LIST_MAX`].
        items: Vec<ForwardListItem<'a>, FORWARDING_LIST_MAX> = "forwardListItem",
    }
}

structure! {
    /// The forwarding settings.
    pub struct GetForwardingResponse<'a> {
        /// The settings (absent when none is set).
        forwarding_list: Option<ForwardingList<'a>> = "forwardingList",
    }
}

structure! {
    /// Change one forwarding setting.
    pub struct SetForwarding<'a> {
        /// The device.
        device: DeviceId<'a> = "device",
        /// Which forwarding.
        forwarding_type: ForwardingType<'a> = "forwardingType",
        /// On or off.
        activate_forward: bool = "activateForward",
        /// Where calls go.
        forward_dn: Option<DeviceId<'a>> = "forwardDN",
        /// Rings before forwarding on no answer.
        ring_count: Option<u32> = "ringCount",
        /// Seconds before forwarding on no answer.
        ring_duration: Option<u32> = "ringDuration",
    }
}

structure! {
    /// Forwarding was set.
    pub struct SetForwardingResponse {}
}

structure! {
    /// Ask whether the message waiting indicator is lit.
    pub struct GetMessageWaitingIndicator<'a> {
        /// The device.
        device: DeviceId<'a> = "device",
    }
}

structure! {
    /// Whether the message waiting indicator is lit.
    pub struct GetMessageWaitingIndicatorResponse {
        /// Lit or not.
        message_waiting_on: bool = "messageWaitingOn",
    }
}

structure! {
    /// Light or clear the message waiting indicator.
    pub struct SetMessageWaitingIndicator<'a> {
        /// The device.
        device: DeviceId<'a> = "device",
        /// Lit or not.
        message_waiting_on: bool = "messageWaitingOn",
    }
}

structure! {
    /// The indicator was set.
    pub struct SetMessageWaitingIndicatorResponse {}
}

structure! {
    /// Ask whether the speaker is muted.
    pub struct GetSpeakerMute<'a> {
        /// The device.
        device: DeviceId<'a> = "device",
        /// Which speaker (handset, headset, ...), a device-specific ID.
        auditory_apparatus: Option<Text<'a>> = "auditoryApparatus",
    }
}

structure! {
    /// Whether the speaker is muted.
    pub struct GetSpeakerMuteResponse {
        /// Muted or not.
        speaker_mute_on: bool = "speakerMuteOn",
    }
}

structure! {
    /// Mute or unmute the speaker.
    pub struct SetSpeakerMute<'a> {
        /// The device.
        device: DeviceId<'a> = "device",
        /// Which speaker.
        auditory_apparatus: Option<Text<'a>> = "auditoryApparatus",
        /// Muted or not.
        speaker_mute_on: bool = "speakerMuteOn",
    }
}

structure! {
    /// The speaker was muted or unmuted.
    pub struct SetSpeakerMuteResponse {}
}

structure! {
    /// Ask for the speaker volume.
    pub struct GetSpeakerVolume<'a> {
        /// The device.
        device: DeviceId<'a> = "device",
        /// Which speaker.
        auditory_apparatus: Option<Text<'a>> = "auditoryApparatus",
    }
}

structure! {
    /// The speaker volume.
    pub struct GetSpeakerVolumeResponse {
        /// Volume, 0 to 100.
        speaker_volume: u32 = "speakerVolume",
    }
}

structure! {
    /// Set the speaker volume.
    pub struct SetSpeakerVolume<'a> {
        /// The device.
        device: DeviceId<'a> = "device",
        /// Which speaker.
        auditory_apparatus: Option<Text<'a>> = "auditoryApparatus",
        /// Volume, 0 to 100.
        speaker_volume: u32 = "speakerVolume",
    }
}

structure! {
    /// The volume was set.
    pub struct SetSpeakerVolumeResponse {}
}

structure! {
    /// Ask whether the microphone is muted.
    pub struct GetMicrophoneMute<'a> {
        /// The device.
        device: DeviceId<'a> = "device",
        /// Which microphone.
        auditory_apparatus: Option<Text<'a>> = "auditoryApparatus",
    }
}

structure! {
    /// Whether the microphone is muted.
    pub struct GetMicrophoneMuteResponse {
        /// Muted or not.
        microphone_mute_on: bool = "microphoneMuteOn",
    }
}

structure! {
    /// Mute or unmute the microphone.
    pub struct SetMicrophoneMute<'a> {
        /// The device.
        device: DeviceId<'a> = "device",
        /// Which microphone.
        auditory_apparatus: Option<Text<'a>> = "auditoryApparatus",
        /// Muted or not.
        microphone_mute_on: bool = "microphoneMuteOn",
    }
}

structure! {
    /// The microphone was muted or unmuted.
    pub struct SetMicrophoneMuteResponse {}
}
