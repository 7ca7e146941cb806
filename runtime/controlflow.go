package runtime

func registerControlFlow(r *Registry) {}
