//! The isolated network a stage's temporary database lives in (a VPC, a subnet and a security
//! group), made in moto with three plain EC2 Query-protocol requests. Only the test bed makes
//! EC2 calls, and three calls do not pay for the EC2 SDK crate's build.

use crate::moto::REGION;

/// The network made by [`isolated_network`]: what the stage's DB subnet group and task need.
#[derive(Debug, Clone)]
pub struct Network {
    /// The one subnet, in `us-east-1a`.
    pub subnet: String,
    /// The security group, in the VPC.
    pub security_group: String,
}

/// Makes a VPC (10.0.0.0/16), a subnet (10.0.1.0/24) and a security group named `name`.
pub async fn isolated_network(endpoint: &str, name: &str) -> Network {
    let vpc = call(
        endpoint,
        &[("Action", "CreateVpc"), ("CidrBlock", "10.0.0.0/16")],
    )
    .await;
    let vpc = element(&vpc, "vpcId");
    let subnet = call(
        endpoint,
        &[
            ("Action", "CreateSubnet"),
            ("VpcId", &vpc),
            ("CidrBlock", "10.0.1.0/24"),
            ("AvailabilityZone", "us-east-1a"),
        ],
    )
    .await;
    let group = call(
        endpoint,
        &[
            ("Action", "CreateSecurityGroup"),
            ("GroupName", name),
            ("GroupDescription", "isolated"),
            ("VpcId", &vpc),
        ],
    )
    .await;
    Network {
        subnet: element(&subnet, "subnetId"),
        security_group: element(&group, "groupId"),
    }
}

/// Sends one EC2 Query request to moto (which routes on the credential scope and checks no
/// signature) and returns the XML answer; any other status is a panic naming the action.
async fn call(endpoint: &str, params: &[(&str, &str)]) -> String {
    let mut form = vec![("Version", "2016-11-15")];
    form.extend_from_slice(params);
    let response = reqwest::Client::new()
        .post(endpoint)
        .header(
            "Authorization",
            crate::serve::unsigned_authorization("testing", REGION, "ec2"),
        )
        .form(&form)
        .send()
        .await
        .expect("EC2 request to moto");
    let status = response.status();
    let body = response.text().await.expect("EC2 answer from moto");
    assert!(status.is_success(), "EC2 {params:?}: {status} {body}");
    body
}

/// The text of the first `<tag>` element of an XML answer.
fn element(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag}> in {xml}"))
        + open.len();
    let len = xml[start..]
        .find('<')
        .unwrap_or_else(|| panic!("<{tag}> not closed in {xml}"));
    xml[start..start + len].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_an_answer_then_the_first_element_text_is_taken() {
        let xml = "<CreateVpcResponse><vpc><vpcId>vpc-1a2b</vpcId><state>available</state></vpc>\
                   <vpcId>vpc-other</vpcId></CreateVpcResponse>";
        assert_eq!(element(xml, "vpcId"), "vpc-1a2b");
        assert_eq!(element(xml, "state"), "available");
    }
}
