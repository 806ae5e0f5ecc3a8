package ec2cluster

import (
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func (s Spec) tags(role, group, nameSuffix string) map[string]string {
	t := map[string]string{}
	for k, v := range s.Tags {
		t[k] = v
	}
	if _, ok := t["Name"]; !ok {
		t["Name"] = s.Name + "-" + nameSuffix
	}
	t[TagCluster] = s.Name
	if role != "" {
		t[TagRole] = role
	}
	if group != "" {
		t[TagGroup] = group
	}
	return t
}

func ec2Tags(m map[string]string) []ec2types.Tag {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]ec2types.Tag, 0, len(m))
	for _, k := range keys {
		out = append(out, ec2types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

func tagMap(tags []ec2types.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func tagValue(tags []ec2types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}
