package runtime

func registerAttention(r *Registry) {}
